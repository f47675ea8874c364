namespace LockFree.Auth;

/// <summary>The outcome of <see cref="ISharedTokenStore.PublishAsync"/>.</summary>
/// <param name="IsPublished">Whether the value became the record (the fence still matched).</param>
/// <param name="Version">The new version if published; otherwise the version that superseded the fence.</param>
public readonly record struct SharedPublishResult(bool IsPublished, long Version);
