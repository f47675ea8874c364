using System.Security.Cryptography;
using System.Text;

namespace LockFree.Auth;

/// <summary>
/// AES-GCM with a key you supply (16, 24 or 32 bytes, the same on every replica): a fresh random 96-bit nonce per
/// payload, a 128-bit tag, and the record's key as associated data. Layout: version byte (1), nonce, tag, ciphertext.
/// </summary>
/// <remarks>Concurrency: immutable after construction; a new <see cref="AesGcm"/> is made per call, so calls may run concurrently.</remarks>
public sealed class AesGcmSharedTokenProtector : ISharedTokenProtector
{
    private const byte FormatVersion = 1;
    private const int NonceSize = 12;
    private const int TagSize = 16;
    private const int HeaderSize = 1 + NonceSize + TagSize;

    // Copied at construction and never written again.
    private readonly byte[] _key;

    /// <summary>Creates a protector with a 128-, 192- or 256-bit key.</summary>
    /// <param name="key">The key: 16, 24 or 32 bytes (for example from a secret store). Copied.</param>
    public AesGcmSharedTokenProtector(ReadOnlySpan<byte> key)
    {
        if (key.Length is not (16 or 24 or 32))
        {
            throw new ArgumentException("The AES-GCM key must be 16, 24 or 32 bytes long.", nameof(key));
        }

        _key = key.ToArray();
    }

    /// <inheritdoc/>
    public byte[] Protect(ReadOnlySpan<byte> plaintext, string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        var output = new byte[HeaderSize + plaintext.Length];
        output[0] = FormatVersion;
        var nonce = output.AsSpan(1, NonceSize);
        var tag = output.AsSpan(1 + NonceSize, TagSize);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(_key, TagSize);
        aes.Encrypt(nonce, plaintext, output.AsSpan(HeaderSize), tag, Encoding.UTF8.GetBytes(key));
        return output;
    }

    /// <inheritdoc/>
    public byte[] Unprotect(ReadOnlySpan<byte> protectedPayload, string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (protectedPayload.Length < HeaderSize || protectedPayload[0] != FormatVersion)
        {
            throw new CryptographicException("The shared token payload is not an AES-GCM payload of this format.");
        }

        var plaintext = new byte[protectedPayload.Length - HeaderSize];
        using var aes = new AesGcm(_key, TagSize);
        aes.Decrypt(
            protectedPayload.Slice(1, NonceSize),
            protectedPayload[HeaderSize..],
            protectedPayload.Slice(1 + NonceSize, TagSize),
            plaintext,
            Encoding.UTF8.GetBytes(key));
        return plaintext;
    }
}
