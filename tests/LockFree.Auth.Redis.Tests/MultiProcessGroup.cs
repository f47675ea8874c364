namespace LockFree.Auth.Redis.Tests;

/// <summary>
/// The tests that start replica processes (MultiProcessTests, FaultTests): one collection that runs alone, after the
/// parallel ones, so that their processes never compete with each other or with other tests for the 2 CI cores (their
/// bounds and exchange counts are timing-sensitive).
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MultiProcessGroup
{
    public const string Name = "Multi-process";
}
