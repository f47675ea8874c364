namespace LockFree.Cli.Storm;

/// <summary>The sign-in of <c>lockfree login</c>.</summary>
/// <param name="Seconds">From the start of the sign-in to the token (includes the user's time in the browser).</param>
/// <param name="Scope">The granted scope.</param>
/// <param name="RefreshToken">Whether a refresh token came with it (every later token is refreshed with it).</param>
/// <param name="LoginPages">Login pages the embedded server served (browser navigations to the authorization endpoint).</param>
/// <param name="CodeExchanges">Authorization codes exchanged at the token endpoint.</param>
/// <param name="RefreshExchanges">Refresh-token grants during the run.</param>
internal sealed record LoginStats(double Seconds, string Scope, bool RefreshToken, long LoginPages, long CodeExchanges, long RefreshExchanges);
