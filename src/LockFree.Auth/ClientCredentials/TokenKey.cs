namespace LockFree.Auth.ClientCredentials;

/// <summary>The cache key of one token: the client's name, the scope and the resource requested (ordinal equality).</summary>
/// <param name="Client">The client's name.</param>
/// <param name="Scope">The scope requested, or <see langword="null"/>.</param>
/// <param name="Resource">The absolute URI of the resource requested, or <see langword="null"/>.</param>
internal readonly record struct TokenKey(string Client, string? Scope, string? Resource)
{
    /// <summary>Describes the key (a scope and a resource are not secrets).</summary>
    public override string ToString() => $"{Client} (scope {Scope ?? "(none)"}, resource {Resource ?? "(none)"})";
}
