namespace LockFree.Auth.CoyoteTests.SeededBugs;

/// <summary>
/// Seeded bug "issuer pin as check-then-set": the real <see cref="IssuerTrust"/> (nothing configured, pin on first use)
/// with its write-once compare-and-swap split into a check and a write. Two first uses with different issuers can both
/// see "nothing pinned", both write, and both be trusted when they check: the credentials are used with both issuers.
/// Passed to the cross-app provider through its internal <c>OverBackChannel(…, seededBugTrust)</c>.
/// </summary>
internal sealed class CheckThenSetIssuerTrust() : IssuerTrust(null, "TrustedAuthorizationServers", pinOnFirstUse: true)
{
    private protected override void PinCore(string normalized)
    {
        // SEEDED BUG: check-then-write instead of Interlocked.CompareExchange(ref _pinned, normalized, null).
        if (Pinned is null)
        {
            WritePinUnconditionally(normalized);
        }
    }
}
