namespace LockFree.Cli;

/// <summary>Exit codes of <c>lockfree</c>.</summary>
internal static class ExitCodes
{
    public const int Passed = 0;
    public const int Failed = 1;
    public const int Usage = 2;
    public const int Interrupted = 130;
}
