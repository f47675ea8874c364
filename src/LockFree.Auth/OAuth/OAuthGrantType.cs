namespace LockFree.Auth.OAuth;

/// <summary>The OAuth grant a <see cref="ClientOAuthProvider"/> uses to obtain tokens.</summary>
public enum OAuthGrantType
{
    /// <summary>Authorization code with PKCE (S256): a user authorizes in a browser (the default).</summary>
    AuthorizationCode = 0,

    /// <summary>Client credentials: the client authenticates as itself (machine to machine).</summary>
    ClientCredentials = 1,
}
