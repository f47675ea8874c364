namespace LockFree.Cli.Embedded;

/// <summary>What the login side of the authorization server counted.</summary>
/// <param name="LoginPages">Login pages served: one per browser navigation to the authorization endpoint.</param>
/// <param name="Consents">Forms submitted with "Allow" (each issued one code).</param>
/// <param name="Denials">Forms submitted with "Deny" (each redirected with <c>access_denied</c>).</param>
/// <param name="Registrations">RFC 7591 registrations.</param>
internal sealed record LoginCounters(long LoginPages, long Consents, long Denials, long Registrations);
