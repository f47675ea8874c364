using System.Net;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace LockFree.Cli.Embedded;

/// <summary>
/// The HTML of the authorization endpoint: the login and consent form (user name, the requested scopes as checkboxes,
/// Allow and Deny) and the error pages, each a self-contained page that may not be framed, cached or referred.
/// </summary>
internal static class LoginPage
{
    /// <summary>The title of the login page.</summary>
    public const string Title = "Sign in to the lockfree embedded server";

    /// <summary>The login and consent form for <paramref name="pending"/>, with <paramref name="error"/> above it if any.</summary>
    public static string Form(PendingAuthorization pending, string? error)
    {
        static string E(string text) => WebUtility.HtmlEncode(text);
        var html = new StringBuilder();
        html.Append("<p class=\"lead\"><strong id=\"client-name\">").Append(E(pending.Client.Name)).Append("</strong> asks to access the protected resource")
            .Append(pending.Resource is null ? "" : " <code>" + E(pending.Resource) + "</code>").Append(" on your behalf.</p>");
        if (error is not null)
        {
            html.Append("<p class=\"error\" id=\"form-error\">").Append(E(error)).Append("</p>");
        }

        html.Append("<form id=\"consent\" method=\"post\" action=\"").Append(EmbeddedEndpoints.AuthorizePath).Append("\">")
            .Append("<input type=\"hidden\" name=\"request_id\" value=\"").Append(E(pending.RequestId)).Append("\">")
            .Append("<label for=\"username\">User name</label>")
            .Append("<input id=\"username\" name=\"username\" autocomplete=\"username\" maxlength=\"64\" required autofocus>")
            .Append("<fieldset><legend>Allow these scopes</legend>");
        if (pending.Scopes.Length == 0)
        {
            html.Append("<p class=\"muted\">No scope was requested.</p>");
        }

        foreach (var scope in pending.Scopes)
        {
            html.Append("<label class=\"scope\"><input type=\"checkbox\" name=\"scope\" id=\"scope-").Append(E(scope)).Append("\" value=\"").Append(E(scope)).Append("\" checked> <code>")
                .Append(E(scope)).Append("</code> <span class=\"muted\">").Append(E(ScopeDescription(scope))).Append("</span></label>");
        }

        var back = Uri.TryCreate(pending.RedirectUri, UriKind.Absolute, out var r) ? r.GetLeftPart(UriPartial.Authority) : pending.RedirectUri;
        html.Append("</fieldset><div class=\"actions\">")
            .Append("<button type=\"submit\" name=\"action\" value=\"allow\" id=\"allow\">Allow</button>")
            .Append("<button type=\"submit\" name=\"action\" value=\"deny\" id=\"deny\" formnovalidate>Deny</button>")
            .Append("</div></form><p class=\"muted\">Either way, your browser then returns to <code>").Append(E(back)).Append("</code>.</p>");
        return html.ToString();
    }

    /// <summary>Writes a page with <paramref name="title"/> and the HTML <paramref name="body"/>.</summary>
    public static Task WriteAsync(HttpContext context, int status, string title, string body)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "text/html; charset=utf-8";
        context.Response.Headers.CacheControl = "no-store";
        context.Response.Headers.XFrameOptions = "DENY";
        context.Response.Headers.ContentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' https: http://127.0.0.1:* http://[::1]:*; frame-ancestors 'none'";
        context.Response.Headers["Referrer-Policy"] = "no-referrer";
        var page = new StringBuilder()
            .Append("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>")
            .Append(WebUtility.HtmlEncode(title)).Append("</title><style>")
            .Append("body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;background:#f6f8fa;color:#1f2328;margin:0}")
            .Append("main{max-width:30rem;margin:4rem auto;background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:1.5rem 2rem}")
            .Append("h1{font-size:1.3rem;margin-top:0}label{display:block;margin:.6rem 0 .3rem}input#username{width:100%;box-sizing:border-box;padding:.45rem;font-size:1rem;border:1px solid #d0d7de;border-radius:6px}")
            .Append("fieldset{border:1px solid #d0d7de;border-radius:6px;margin:1rem 0;padding:.5rem 1rem}label.scope{font-weight:normal}")
            .Append(".actions{display:flex;gap:.75rem}button{font-size:1rem;padding:.45rem 1.2rem;border-radius:6px;border:1px solid #d0d7de;cursor:pointer}")
            .Append("#allow{background:#1f883d;color:#fff;border-color:#1a7f37}#deny{background:#fff}.muted{color:#656d76;font-size:.9rem}.error{color:#cf222e}")
            .Append("code{background:#f6f8fa;padding:.1rem .3rem;border-radius:4px}</style></head><body><main><h1>")
            .Append(WebUtility.HtmlEncode(title)).Append("</h1>").Append(body).Append("</main></body></html>");
        return context.Response.WriteAsync(page.ToString());
    }

    private static string ScopeDescription(string scope) => scope switch
    {
        "storm" => "call the storm resource",
        "offline_access" => "stay signed in (a refresh token)",
        _ => "",
    };
}
