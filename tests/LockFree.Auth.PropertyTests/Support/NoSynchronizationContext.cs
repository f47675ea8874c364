namespace LockFree.Auth.PropertyTests.Support;

/// <summary>
/// Runs a step with no <see cref="SynchronizationContext"/>. The xunit 2 runner installs one on test threads, and
/// with it the runtime refuses to inline task continuations (they are queued to the pool instead), so a completed
/// gate or a cancelled caller would take effect "a bit later". Without it every step has fully taken effect when it
/// returns, which is what lets the model be compared right after each step, deterministically.
/// </summary>
internal static class NoSynchronizationContext
{
    public static void Run<TState>(Action<TState> action, TState state)
    {
        var previous = SynchronizationContext.Current;
        SynchronizationContext.SetSynchronizationContext(null);
        try
        {
            action(state);
        }
        finally
        {
            SynchronizationContext.SetSynchronizationContext(previous);
        }
    }
}
