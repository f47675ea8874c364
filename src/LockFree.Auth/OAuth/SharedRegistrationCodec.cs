using System.Text.Json;

namespace LockFree.Auth.OAuth;

/// <summary>
/// A dynamic client registration in a shared record (issue 13): UTF-8 JSON of the client ID, the client secret (a
/// secret: the record is protected by the <see cref="ISharedTokenProtector"/> like a token set) and the token endpoint
/// authentication method; fingerprinted by the client ID, so a rejected registration is retired only while the record
/// still holds it. A registration has no expiry of its own: it stays usable until the server rejects it. Pure.
/// </summary>
internal sealed class SharedRegistrationCodec : ISharedRecordCodec<ClientRegistration>
{
    internal static readonly SharedRegistrationCodec Instance = new();

    public byte[] Serialize(ClientRegistration value)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(128);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("id", value.ClientId);
            if (value.ClientSecret is { } secret) { writer.WriteString("sec", secret); }
            writer.WriteString("m", value.TokenEndpointAuthMethod);
            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    public ClientRegistration Deserialize(ReadOnlySpan<byte> utf8)
    {
        var reader = new Utf8JsonReader(utf8);
        using var document = JsonDocument.ParseValue(ref reader);
        var root = document.RootElement;
        return new ClientRegistration(
            root.GetProperty("id").GetString() ?? throw new JsonException("No client ID."),
            root.TryGetProperty("sec", out var secret) ? secret.GetString() : null,
            root.GetProperty("m").GetString() ?? throw new JsonException("No token endpoint authentication method."));
    }

    /// <summary>The hash of the client ID ("client:" prefixed, so it never equals a token's fingerprint).</summary>
    public string Fingerprint(ClientRegistration value) => ClientIdFingerprint(value.ClientId);

    /// <summary>The fingerprint of the registration whose client ID is <paramref name="clientId"/>.</summary>
    internal static string ClientIdFingerprint(string clientId) => SharedTokenPayload.Fingerprint("client:" + clientId);

    public DateTimeOffset? ExpiresAt(ClientRegistration value) => null;

    public bool IsUsable(ClientRegistration value, DateTimeOffset now) => true;

    /// <summary>A registration carries nothing that presenting twice would spend; it is returned as it is.</summary>
    public ClientRegistration MarkShared(ClientRegistration value) => value;

    /// <summary>Nothing to withhold: a client ID and secret may be used by every replica at once.</summary>
    public ClientRegistration? WithoutSharedSecrets(ClientRegistration previous) => null;
}
