namespace LockFree.Auth.Redis;

/// <summary>
/// The Lua scripts of <see cref="RedisSharedTokenStore"/>: one per transition, each one atomic step on the server
/// (<c>spec/distributed.md</c>, "Transitions"). The record is a hash: <c>v</c> version, <c>p</c> protected payload,
/// <c>e</c> expiry (Unix milliseconds, empty when unknown), <c>f</c> access-token fingerprint, <c>s</c> <c>live</c> or
/// <c>retired</c>. The lease is a string <c>"&lt;fence&gt; &lt;holder&gt;"</c> with a millisecond TTL.
/// </summary>
internal static class RedisScripts
{
    /// <summary>KEYS: record, lease. ARGV: expected version, holder, TTL ms. Returns {0 stale | 1 held | 2 granted, version, held PTTL}.</summary>
    internal const string Lease = """
        local v = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
        if v ~= tonumber(ARGV[1]) then return {0, v, 0} end
        local cur = redis.call('GET', KEYS[2])
        if cur then
          local sep = string.find(cur, ' ', 1, true)
          if sep and tonumber(string.sub(cur, 1, sep - 1)) == v and string.sub(cur, sep + 1) ~= ARGV[2] then
            return {1, v, redis.call('PTTL', KEYS[2])}
          end
        end
        redis.call('SET', KEYS[2], ARGV[1] .. ' ' .. ARGV[2], 'PX', ARGV[3])
        return {2, v, 0}
        """;

    /// <summary>
    /// KEYS: record, lease. ARGV: fence, holder, payload, expiry ms or '', fingerprint, record TTL ms, channel, key.
    /// Returns {1, new version} or {0, current version}. The lease need not be live: the version is the fence.
    /// </summary>
    internal const string Publish = """
        local v = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
        if v ~= tonumber(ARGV[1]) then return {0, v} end
        local n = v + 1
        redis.call('HSET', KEYS[1], 'v', n, 'p', ARGV[3], 'e', ARGV[4], 'f', ARGV[5], 's', 'live')
        redis.call('PEXPIRE', KEYS[1], ARGV[6])
        if redis.call('GET', KEYS[2]) == ARGV[1] .. ' ' .. ARGV[2] then redis.call('DEL', KEYS[2]) end
        redis.call('PUBLISH', ARGV[7], ARGV[8])
        return {1, n}
        """;

    /// <summary>KEYS: lease. ARGV: fence, holder, channel, key. Deletes the lease only if it is still this holder's at this fence.</summary>
    internal const string Release = """
        if redis.call('GET', KEYS[1]) == ARGV[1] .. ' ' .. ARGV[2] then
          redis.call('DEL', KEYS[1])
          redis.call('PUBLISH', ARGV[3], ARGV[4])
          return 1
        end
        return 0
        """;

    /// <summary>KEYS: record. ARGV: fingerprint, channel, key. Retires the record only if it is live and holds that fingerprint (the TTL is kept).</summary>
    internal const string InvalidateIf = """
        local r = redis.call('HMGET', KEYS[1], 's', 'f')
        if r[1] == 'live' and r[2] == ARGV[1] then
          redis.call('HSET', KEYS[1], 's', 'retired')
          redis.call('PUBLISH', ARGV[2], ARGV[3])
          return 1
        end
        return 0
        """;
}
