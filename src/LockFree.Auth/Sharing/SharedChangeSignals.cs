using System.Collections.Concurrent;

namespace LockFree.Auth;

/// <summary>
/// One wake-up signal per key for <see cref="ISharedTokenStore.WaitForChangeAsync"/>: a waiter takes the key's
/// current signal before it reads the record, so a notification that arrives after the read completes the signal it
/// holds (no lost wake-up); a notification takes the signal out of the table and completes it.
/// </summary>
/// <remarks>
/// Concurrency: the table is a <see cref="ConcurrentDictionary{TKey, TValue}"/>; a signal is a
/// <see cref="TaskCompletionSource"/> completed at most once, continuations asynchronous (a notifier never runs a
/// waiter's code). Two racing <c>GetOrAdd</c> calls may create two signals, of which one is kept: benign, both callers
/// get the kept one.
/// </remarks>
internal sealed class SharedChangeSignals
{
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _signals = new(StringComparer.Ordinal);

    /// <summary>The key's current signal (created if none).</summary>
    internal TaskCompletionSource Current(string key) =>
        _signals.GetOrAdd(key, static _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

    /// <summary>Wakes every waiter of <paramref name="key"/>.</summary>
    internal void Notify(string key)
    {
        if (_signals.TryRemove(key, out var signal))
        {
            signal.TrySetResult();
        }
    }

    /// <summary>Completes when <paramref name="signal"/> does or <paramref name="bound"/> elapsed on <paramref name="time"/>; throws only for <paramref name="cancellationToken"/>.</summary>
    internal static async ValueTask WaitAsync(TaskCompletionSource signal, TimeSpan bound, TimeProvider time, CancellationToken cancellationToken)
    {
        if (signal.Task.IsCompleted)
        {
            return;
        }

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var delay = Task.Delay(bound, time, stop.Token);
#pragma warning disable VSTHRD003 // The signal is this store's own wake-up task; nothing blocks on it.
        await Task.WhenAny(signal.Task, delay).ConfigureAwait(false);
#pragma warning restore VSTHRD003
        await stop.CancelAsync().ConfigureAwait(false);
        cancellationToken.ThrowIfCancellationRequested();
    }
}
