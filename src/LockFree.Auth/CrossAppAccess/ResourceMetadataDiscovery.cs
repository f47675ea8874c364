using LockFree.Auth.Protocol;

namespace LockFree.Auth.CrossAppAccess;

/// <summary>The outcome of one protected resource metadata discovery: the metadata, or none at any location.</summary>
/// <remarks>Concurrency: immutable; compared by reference when a <c>401</c> retires it.</remarks>
internal sealed record ResourceMetadataDiscovery(ProtectedResourceMetadata? Metadata);
