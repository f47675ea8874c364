using System.Net;
using System.Text;

namespace LockFree.Auth.OAuth;

/// <summary>What the loopback listener answered one request with (also on the page, as <c>data-outcome</c>).</summary>
internal enum PageOutcome
{
    Success,
    Denied,
    Error,
    StateMismatch,
    IssuerMismatch,
    Incomplete,
    AlreadyCompleted,
    NotFound,
    MethodNotAllowed,
    BadRequest,
}

/// <summary>One HTML page of the loopback listener: status, outcome and body.</summary>
internal sealed record AuthorizationPage(int Status, PageOutcome Outcome, string Html);

/// <summary>
/// The small HTML pages the loopback redirect listener answers with. They never contain the code, the state or any
/// token; server-provided text (an error code or description, already reduced to the RFC 6749 character set) is
/// HTML-encoded. Every page carries <c>data-outcome</c> on its <c>main</c> element.
/// </summary>
/// <remarks>Concurrency: stateless.</remarks>
internal static class AuthorizationResponsePages
{
    internal static AuthorizationPage Success() => Page(200, PageOutcome.Success, "Authorization received",
        "The application received your authorization and is finishing the sign-in. You can close this tab.");

    internal static AuthorizationPage ErrorResponse(string error, string? description)
    {
        var denied = string.Equals(error, "access_denied", StringComparison.Ordinal);
        var text = new StringBuilder()
            .Append(denied ? "Access was not granted: the authorization server answered " : "The authorization server answered with the error ")
            .Append("<code>").Append(WebUtility.HtmlEncode(error)).Append("</code>");
        if (description is not null)
        {
            text.Append(" (").Append(WebUtility.HtmlEncode(description)).Append(')');
        }

        text.Append(". The application was told; you can close this tab.");
        return Page(200, denied ? PageOutcome.Denied : PageOutcome.Error, denied ? "Access not granted" : "Authorization failed", text.ToString(), encoded: true);
    }

    internal static AuthorizationPage StateMismatch() => Page(400, PageOutcome.StateMismatch, "Not the sign-in in progress",
        "This response does not belong to the sign-in the application is waiting for (its state does not match), so it was ignored. " +
        "If you started a sign-in, finish it in the tab the application opened.");

    internal static AuthorizationPage IssuerMismatch() => Page(400, PageOutcome.IssuerMismatch, "Unexpected authorization server",
        "The response names another authorization server than the one the application sent you to (RFC 9207), so it was rejected. " +
        "The application was told; you can close this tab.");

    internal static AuthorizationPage Incomplete() => Page(400, PageOutcome.Incomplete, "Incomplete response",
        "The response carried neither an authorization code nor an error. The application was told; you can close this tab.");

    internal static AuthorizationPage AlreadyCompleted() => Page(409, PageOutcome.AlreadyCompleted, "Sign-in already completed",
        "The application already received the response of this sign-in. You can close this tab.");

    internal static AuthorizationPage NotFound() => Page(404, PageOutcome.NotFound, "Not found",
        "This address only receives the redirect of a sign-in.");

    internal static AuthorizationPage MethodNotAllowed() => Page(405, PageOutcome.MethodNotAllowed, "Method not allowed",
        "This address only receives the redirect of a sign-in (GET).");

    internal static AuthorizationPage BadRequest() => Page(400, PageOutcome.BadRequest, "Bad request",
        "The request could not be read.");

    private static AuthorizationPage Page(int status, PageOutcome outcome, string title, string text, bool encoded = false)
    {
        var ok = outcome is PageOutcome.Success or PageOutcome.AlreadyCompleted;
        var html = new StringBuilder(1024)
            .Append("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">")
            .Append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>")
            .Append(WebUtility.HtmlEncode(title)).Append("</title><style>")
            .Append("body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;color:#1f2328;background:#f6f8fa;margin:0}")
            .Append("main{max-width:34rem;margin:5rem auto;background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:1.5rem 2rem}")
            .Append("h1{font-size:1.35rem;margin-top:0}.ok{color:#1a7f37}.bad{color:#cf222e}")
            .Append("code{background:#f6f8fa;padding:.1rem .3rem;border-radius:4px}footer{color:#656d76;font-size:.85rem;margin-top:1.5rem}")
            .Append("</style></head><body><main data-outcome=\"").Append(OutcomeName(outcome)).Append("\"><h1 class=\"")
            .Append(ok ? "ok" : "bad").Append("\">").Append(WebUtility.HtmlEncode(title)).Append("</h1><p>")
            .Append(encoded ? text : WebUtility.HtmlEncode(text))
            .Append("</p><footer>LockFree.Auth loopback redirect (RFC 8252)</footer></main></body></html>");
        return new AuthorizationPage(status, outcome, html.ToString());
    }

    internal static string OutcomeName(PageOutcome outcome) => outcome switch
    {
        PageOutcome.Success => "success",
        PageOutcome.Denied => "denied",
        PageOutcome.Error => "error",
        PageOutcome.StateMismatch => "state-mismatch",
        PageOutcome.IssuerMismatch => "issuer-mismatch",
        PageOutcome.Incomplete => "incomplete",
        PageOutcome.AlreadyCompleted => "already-completed",
        PageOutcome.NotFound => "not-found",
        PageOutcome.MethodNotAllowed => "method-not-allowed",
        _ => "bad-request",
    };
}
