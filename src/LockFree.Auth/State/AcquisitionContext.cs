namespace LockFree.Auth;

/// <summary>What an acquisition started from.</summary>
/// <typeparam name="T">The acquired value type.</typeparam>
/// <param name="Previous">The value being replaced (the cached one during refresh-ahead, or the last retired one), for example to use its refresh token.</param>
/// <param name="Generation">The generation the acquisition belongs to.</param>
/// <param name="IsBackgroundRefresh">Whether a still-usable value is being refreshed ahead of expiry.</param>
public readonly record struct AcquisitionContext<T>(T? Previous, long Generation, bool IsBackgroundRefresh) where T : class;
