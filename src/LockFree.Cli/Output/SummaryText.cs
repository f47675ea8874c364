using System.Globalization;
using System.Text;
using LockFree.Cli.Storm;

namespace LockFree.Cli.Output;

/// <summary>The human-readable summary of a storm (plain ASCII text; the live view adds color around it).</summary>
internal static class SummaryText
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static string Header(StormSettings settings, string providerDescription, Uri resource)
    {
        var sb = new StringBuilder();
        sb.Append(Inv, $"lockfree storm: {settings.Clients:N0} concurrent clients for {Seconds(settings.Duration)} through {providerDescription}");
        sb.AppendLine();
        if (settings.Embedded)
        {
            sb.Append(Inv, $"embedded authorization server and protected resource at {resource.GetLeftPart(UriPartial.Authority)} (tokens live {Seconds(settings.TokenLifetime)}");
            sb.Append(settings.RevokeEvery > TimeSpan.Zero
                ? string.Create(Inv, $"; the current token is revoked every {Seconds(settings.RevokeEvery)})")
                : "; no revocations)");
        }
        else
        {
            sb.Append(Inv, $"external protected resource {resource} (authority {settings.Authority})");
        }

        return sb.ToString();
    }

    public static string Progress(StormLive live) => string.Create(Inv,
        $"{live.Elapsed.TotalSeconds,6:0.0} s  requests {live.Requests,10:N0}  401s {live.Unauthorized,6:N0}  exchanges {live.Exchanges,4:N0} (ideal {(live.IdealSoFar is { } i ? i.ToString("N0", Inv) : "-")})  coalesced {live.Coalesced,8:N0}  errors {live.Failed:N0}");

    /// <summary>The summary lines: (label, value). The verdict and the ideal's explanation follow.</summary>
    public static IReadOnlyList<(string Label, string Value)> Lines(StormResult r)
    {
        var lines = new List<(string, string)>();
        if (r.Login is { } login)
        {
            lines.Add(("sign-in", string.Create(Inv,
                $"authorization code + PKCE through the browser in {login.Seconds:0.0} s: {login.LoginPages:N0} login page(s), {login.CodeExchanges:N0} code exchange(s), scope '{login.Scope}'; then {login.RefreshExchanges:N0} refresh-token grant(s){(login.RefreshToken ? "" : " (NO refresh token was issued)")}")));
        }

        lines.AddRange(new List<(string, string)>
        {
            ("requests", string.Create(Inv, $"{r.Requests.Total:N0} in {r.DurationSeconds:0.0} s ({r.Requests.PerSecond:N0}/s), {r.Requests.Failed:N0} failed")),
            ("401 responses", Unauthorized(r.Unauthorized)),
            ("token exchanges", Exchanges(r.Exchanges)),
        });
        if (r.Exchanges.Reasons is { } why)
        {
            lines.Add(("why each token", string.Create(Inv,
                $"{why.Initial:N0} first, {why.Ahead:N0} refreshed ahead of expiry (nobody waited), {why.Lapsed:N0} after the previous token lapsed (callers waited), {why.AfterRevocation:N0} after revocation{(why.Redundant > 0 ? string.Create(Inv, $", {why.Redundant:N0} REDUNDANT (the previous token was not yet due)") : "")}")));
        }

        if (r.Exchanges.IdpTokenExchanges is { } idp)
        {
            lines.Add(("IdP exchanges", string.Create(Inv, $"{idp:N0} (ID token -> ID-JAG, RFC 8693){(r.Exchanges.IdTokenCallbacks is { } cb ? string.Create(Inv, $"; ID-token callback ran {cb:N0} time(s)") : "")}")));
        }

        lines.Add(("coalesced waiters", string.Create(Inv,
            $"{r.Meter.CallersCoalesced:N0} callers joined an acquisition already in flight ({r.Meter.AcquisitionsStarted:N0} acquisitions started, {r.Meter.Invalidations:N0} invalidations; LockFree.Auth meter)")));
        lines.Add(("latency", string.Create(Inv, $"p50 {r.LatencyMs.P50:0.00} ms, p99 {r.LatencyMs.P99:0.00} ms, max {r.LatencyMs.Max:0.00} ms")));
        lines.Add(("errors", r.Errors.Count == 0 ? "none" : string.Join("; ", r.Errors.Take(5).Select(e => string.Create(Inv, $"{e.Count:N0} x {e.Kind}")))));
        return lines;
    }

    public static string Verdict(StormResult r) => r.Passed
        ? r.Interrupted ? "INTERRUPTED: no failure before Ctrl+C" : "PASS: every request succeeded and token exchanges <= ideal"
        : "FAIL: " + string.Join("; ", r.Failures);

    public static string IdealExplanation(StormResult r)
    {
        if (r.Exchanges.TokenLifetimeSeconds is not { } l || r.Exchanges.RefreshIntervalSeconds is not { } i)
        {
            return "ideal: unknown (no token lifetime was observed).";
        }

        var lifetime = TimeSpan.FromSeconds(l);
        var usable = IdealExchanges.UsableFor(lifetime).TotalSeconds;
        var why = r.Mode == "embedded" ? "revocation" : "rejection of the current token (invalidation)";
        return string.Create(Inv,
            $"ideal: the core serves a {l:0.###} s token until expiry - min(30 s, 10%) = {usable:0.###} s after issue and refreshes it ahead from expiry - min(2 min, 20%) = {i:0.###} s, so at most one exchange per {i:0.###} s of the run plus one per {why}.");
    }

    public static string Render(StormResult r)
    {
        var sb = new StringBuilder();
        sb.AppendLine("summary");
        foreach (var (label, value) in Lines(r))
        {
            sb.Append("  ").Append(label.PadRight(18)).AppendLine(value);
        }

        sb.AppendLine(IdealExplanation(r));
        sb.AppendLine(Verdict(r));
        return sb.ToString();
    }

    private static string Unauthorized(UnauthorizedStats u)
    {
        if (u.Challenges is null)
        {
            return u.Total.ToString("N0", Inv);
        }

        return string.Create(Inv,
            $"{u.Total:N0}: {u.Challenges:N0} challenges (requests sent before a token existed), {u.Revoked:N0} revoked token, {u.Expired:N0} expired in flight, {u.Unknown:N0} unknown");
    }

    private static string Exchanges(ExchangeStats e)
    {
        if (e.Ideal is not { } ideal)
        {
            return string.Create(Inv, $"{e.Total:N0}, ideal unknown");
        }

        var relation = e.Total == ideal ? "=" : e.Total < ideal ? "<" : ">";
        var mark = e.WithinIdeal ? "ok" : "EXCEEDS IDEAL";
        return string.Create(Inv,
            $"{e.Total:N0} {relation} ideal {ideal:N0} [{mark}] (1 initial + {e.IdealRefreshes:N0} refresh-ahead every {e.RefreshIntervalSeconds:0.###} s + {e.IdealRevocations:N0} after revocation; {e.LifetimesElapsed:0.#} token lifetimes elapsed)");
    }

    private static string Seconds(TimeSpan t) => t.TotalSeconds >= 1 && t.TotalSeconds == Math.Floor(t.TotalSeconds)
        ? string.Create(Inv, $"{t.TotalSeconds:0} s")
        : string.Create(Inv, $"{t.TotalMilliseconds:0} ms");
}
