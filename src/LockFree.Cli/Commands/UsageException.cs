namespace LockFree.Cli.Commands;

/// <summary>Options that parsed but do not fit together (exit code 2); the message is shown after <c>lockfree: </c>.</summary>
internal sealed class UsageException(string message) : Exception(message);
