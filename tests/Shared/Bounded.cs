using System.Globalization;
using System.Runtime.CompilerServices;

namespace LockFree.TestSupport;

/// <summary>
/// Fail fast: every await of shared work in the tests goes through one of these bounds, so a broken invariant (a lost
/// wake-up, an acquisition nobody started or finished, a waiter never released) fails the test within seconds with a
/// message naming what did not complete, instead of hanging the test host until a CI time limit.
/// </summary>
/// <remarks>
/// The bound is wall-clock time, not the test's fake clock. Default: 30 s, or <c>LOCKFREE_TEST_BOUND_SECONDS</c>. The
/// message names the awaited expression (<see cref="CallerArgumentExpressionAttribute"/>), the file and the line. A
/// task that faults or is cancelled on its own surfaces its own exception unchanged, even a <see cref="TimeoutException"/>;
/// only the bound elapsing throws <see cref="HangException"/> (which is deliberately not a <see cref="TimeoutException"/>,
/// so <c>Assert.ThrowsAsync&lt;TimeoutException&gt;</c> never mistakes a hang for the expected failure).
/// Shared source: linked into each test project (see tests/Shared).
/// </remarks>
internal static class Bounded
{
    /// <summary>The bound used when none is given: <c>LOCKFREE_TEST_BOUND_SECONDS</c>, default 30 s.</summary>
    public static TimeSpan Default { get; } =
        double.TryParse(Environment.GetEnvironmentVariable("LOCKFREE_TEST_BOUND_SECONDS"), NumberStyles.Float, CultureInfo.InvariantCulture, out var s) && s > 0
            ? TimeSpan.FromSeconds(s)
            : TimeSpan.FromSeconds(30);

    /// <summary>Awaits <paramref name="task"/> for at most <paramref name="bound"/> (default <see cref="Default"/>).</summary>
    public static async Task<T> Within<T>(
        this Task<T> task,
        TimeSpan? bound = null,
        [CallerArgumentExpression(nameof(task))] string what = "",
        [CallerFilePath] string file = "",
        [CallerLineNumber] int line = 0)
    {
        ArgumentNullException.ThrowIfNull(task);
        await WaitCoreAsync(task, bound ?? Default, what, file, line);
        return await task;
    }

    /// <summary>Awaits <paramref name="task"/> for at most <paramref name="bound"/> (default <see cref="Default"/>).</summary>
    public static async Task Within(
        this Task task,
        TimeSpan? bound = null,
        [CallerArgumentExpression(nameof(task))] string what = "",
        [CallerFilePath] string file = "",
        [CallerLineNumber] int line = 0)
    {
        ArgumentNullException.ThrowIfNull(task);
        await WaitCoreAsync(task, bound ?? Default, what, file, line);
        await task;
    }

    /// <summary>Blocks until <paramref name="task"/> completes, at most <paramref name="bound"/>, and returns its result (for synchronous callers: CsCheck operations, Coyote's engine).</summary>
    public static T ResultWithin<T>(
        this Task<T> task,
        TimeSpan? bound = null,
        [CallerArgumentExpression(nameof(task))] string what = "",
        [CallerFilePath] string file = "",
        [CallerLineNumber] int line = 0)
    {
        ArgumentNullException.ThrowIfNull(task);
        Block(task, bound ?? Default, what, file, line);
        return task.GetAwaiter().GetResult();
    }

    /// <summary>Blocks until <paramref name="task"/> completes, at most <paramref name="bound"/>, and rethrows its failure.</summary>
    public static void WaitWithin(
        this Task task,
        TimeSpan? bound = null,
        [CallerArgumentExpression(nameof(task))] string what = "",
        [CallerFilePath] string file = "",
        [CallerLineNumber] int line = 0)
    {
        ArgumentNullException.ThrowIfNull(task);
        Block(task, bound ?? Default, what, file, line);
        task.GetAwaiter().GetResult();
    }

    /// <summary>The message of a hang: what, where, and how long it was given.</summary>
    public static string Describe(string what, TimeSpan bound, string file, int line) =>
        $"Did not complete within {bound.TotalSeconds:0.###} s: `{what}` ({Path.GetFileName(file)}:{line}). " +
        "Shared work that never completes is a broken invariant (a lost wake-up, an acquisition nobody started or finished, a waiter never released).";

    private static async Task WaitCoreAsync(Task task, TimeSpan bound, string what, string file, int line)
    {
        if (task.IsCompleted)
        {
            return;
        }

        using var stop = new CancellationTokenSource();
        var winner = await Task.WhenAny(task, Task.Delay(bound, stop.Token));
        stop.Cancel();
        if (!ReferenceEquals(winner, task) && !task.IsCompleted)
        {
            throw new HangException(Describe(what, bound, file, line));
        }
    }

    private static void Block(Task task, TimeSpan bound, string what, string file, int line)
    {
        try
        {
            if (task.Wait(bound))
            {
                return;
            }
        }
        catch (AggregateException)
        {
            return; // completed with a failure: the caller rethrows it unwrapped
        }

        throw new HangException(Describe(what, bound, file, line));
    }
}

/// <summary>A bounded await elapsed: the named work did not complete (see <see cref="Bounded"/>).</summary>
internal sealed class HangException(string message) : Exception(message);
