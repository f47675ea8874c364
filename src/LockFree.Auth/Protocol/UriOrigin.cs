namespace LockFree.Auth.Protocol;

/// <summary>Origins (RFC 6454: scheme, host, port) of URIs, for the rule that a token goes only to its resource's origin.</summary>
/// <remarks>Concurrency: stateless.</remarks>
internal static class UriOrigin
{
    /// <summary>Whether <paramref name="candidate"/> is an absolute URI on the same origin as <paramref name="origin"/>.</summary>
    internal static bool IsSame(Uri? candidate, Uri origin) =>
        ReferenceEquals(candidate, origin) // a transport that sends to its endpoint's Uri instance: no string compare
        || candidate is { IsAbsoluteUri: true }
        && origin.IsAbsoluteUri
        && string.Equals(candidate.Scheme, origin.Scheme, StringComparison.OrdinalIgnoreCase)
        && string.Equals(candidate.IdnHost, origin.IdnHost, StringComparison.OrdinalIgnoreCase)
        && candidate.Port == origin.Port;

    /// <summary>
    /// Whether <paramref name="response"/> came from <paramref name="resource"/>'s origin: the request still points there
    /// and the inner handler did not follow a redirect elsewhere (T2 in <c>spec/security.md</c>).
    /// </summary>
    internal static bool AnsweredBy(Uri resource, HttpRequestMessage request, HttpResponseMessage response) =>
        IsSame(request.RequestUri, resource)
        && (response.RequestMessage?.RequestUri is not { } final || ReferenceEquals(final, request.RequestUri) || IsSame(final, resource));
}
