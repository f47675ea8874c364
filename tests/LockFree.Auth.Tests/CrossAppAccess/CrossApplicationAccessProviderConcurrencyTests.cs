using System.Diagnostics;
using Xunit.Abstractions;

namespace LockFree.Auth.Tests.CrossAppAccess;

public sealed class CrossApplicationAccessProviderConcurrencyTests(ITestOutputHelper output)
{
    private readonly CrossAppFixture _world = new();

    [Fact]
    public async Task GetAccessTokenAsync_1024ConcurrentColdCallers_OneCallbackOneExchangeOneGrant()
    {
        using var provider = _world.CreateProvider();
        var gate = _world.Idp.HoldTokens();
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var callers = Enumerable.Range(0, 1024)
            .Select(async _ => { await start.Task.Within(); return await provider.GetAccessTokenAsync(_world.ResourceUri, _world.AsUri).Within(); })
            .ToArray();
        start.SetResult();
        await gate.WaitForArrivalsAsync(1).Within();
        gate.Release();
        var tokens = await Task.WhenAll(callers).Within();

        output.WriteLine($"1024 callers: metadata fetches {_world.As.MetadataRequests}, ID token callbacks {_world.Callbacks}, IdP exchanges {_world.Idp.TokenRequests}, AS grants {_world.As.TokenRequests}, distinct tokens {tokens.Distinct().Count()}");
        Assert.Equal(1, _world.As.MetadataRequests);
        Assert.Equal(1, _world.Callbacks);
        Assert.Equal(1, _world.Idp.TokenRequests);
        Assert.Equal(1, _world.As.TokenRequests);
        Assert.All(tokens, t => Assert.Same(tokens[0], t));
        var stats = provider.CoordinatorFor(_world.ResourceUri, _world.AsUri).Statistics;
        Assert.Equal(1, stats.AcquisitionsStarted);
    }

    [Fact]
    public async Task GetAccessTokenAsync_1024CallersOver16Keys_OneExchangePerKeyOneMetadataFetch()
    {
        using var provider = _world.CreateProvider();
        var gate = _world.Idp.HoldTokens();
        var resources = Enumerable.Range(0, 16).Select(i => new Uri($"https://mcp{i}.example.com/mcp")).ToArray();

        var callers = Enumerable.Range(0, 1024).Select(i => provider.GetAccessTokenAsync(resources[i % 16], _world.AsUri)).ToArray();
        await gate.WaitForArrivalsAsync(16).Within();
        gate.Release();
        var tokens = await Task.WhenAll(callers).Within();

        output.WriteLine($"1024 callers over 16 keys: metadata fetches {_world.As.MetadataRequests}, callbacks {_world.Callbacks}, IdP exchanges {_world.Idp.TokenRequests}, AS grants {_world.As.TokenRequests}");
        Assert.Equal(1, _world.As.MetadataRequests);
        Assert.Equal(16, _world.Callbacks);
        Assert.Equal(16, _world.Idp.TokenRequests);
        Assert.Equal(16, _world.As.TokenRequests);
        Assert.Equal(16, tokens.Distinct().Count());
        for (var i = 0; i < tokens.Length; i++)
        {
            Assert.Same(tokens[i % 16], tokens[i]);
        }
    }

    [Fact]
    public async Task InvalidateCache_MidExchange_ReturnsImmediatelyAndResultNotCached()
    {
        // Warm up the JIT of the invalidation path on another provider, so the measurement is of the call itself.
        using (var warm = new CrossAppFixture().CreateProvider()) { warm.InvalidateCache(); warm.InvalidateCache("x"); }

        using var provider = _world.CreateProvider();
        var gate = _world.Idp.HoldTokens();
        var inFlight = provider.GetAccessTokenAsync(_world.ResourceUri, _world.AsUri);
        await gate.WaitForArrivalsAsync(1).Within();

        var clock = Stopwatch.StartNew();
        provider.InvalidateCache();
        var elapsed = clock.Elapsed;
        var samples = new List<double>();
        for (var i = 0; i < 1000; i++)
        {
            var t = Stopwatch.GetTimestamp();
            provider.InvalidateCache();
            samples.Add(Stopwatch.GetElapsedTime(t).TotalMicroseconds);
        }

        samples.Sort();
        output.WriteLine($"InvalidateCache() mid-exchange: first call {elapsed.TotalMicroseconds:F1} us; 1000 more: median {samples[500]:F2} us, p99 {samples[990]:F2} us, max {samples[^1]:F2} us");

        Assert.False(inFlight.IsCompleted); // it did not wait for the exchange
        _world.Idp.UnholdTokens();
        gate.Release();
        var first = await inFlight.Within();
        var next = await provider.GetAccessTokenAsync(_world.ResourceUri, _world.AsUri).Within();

        Assert.Equal("as-access-1", first.AccessToken); // the waiter still gets the in-flight result
        Assert.Equal("as-access-2", next.AccessToken);   // which was not cached
        Assert.Equal(2, _world.As.MetadataRequests);     // metadata re-fetched after invalidation
        Assert.Equal(2, _world.Callbacks);
    }

    [Fact]
    public async Task InvalidateCache_FromInsideIdTokenCallback_DoesNotDeadlockAndResultNotCached()
    {
        using var provider = _world.CreateProvider();
        var calls = 0;
        _world.CallbackOverride = (_, _) =>
        {
            if (Interlocked.Increment(ref calls) == 1) { provider.InvalidateCache(); }
            return Task.FromResult(CrossAppFixture.IdToken);
        };

        var first = await provider.GetAccessTokenAsync(_world.ResourceUri, _world.AsUri).Within();
        var second = await provider.GetAccessTokenAsync(_world.ResourceUri, _world.AsUri).Within();
        var third = await provider.GetAccessTokenAsync(_world.ResourceUri, _world.AsUri).Within();

        Assert.Equal("as-access-1", first.AccessToken);
        Assert.Equal("as-access-2", second.AccessToken);
        Assert.Same(second, third);
    }

    [Fact]
    public async Task InvalidateCacheRejected_FromInsideIdTokenCallback_ReturnsFalseAndKeepsExchange()
    {
        using var provider = _world.CreateProvider();
        bool? acted = null;
        _world.CallbackOverride = (_, _) => { acted = provider.InvalidateCache("as-access-1"); return Task.FromResult(CrossAppFixture.IdToken); };

        var first = await provider.GetAccessTokenAsync(_world.ResourceUri, _world.AsUri).Within();
        var again = await provider.GetAccessTokenAsync(_world.ResourceUri, _world.AsUri).Within();

        Assert.False(acted);
        Assert.Same(first, again);
    }

    [Fact]
    public async Task InvalidateCacheRejected_CachedToken_RetiresItAndNextCallExchanges()
    {
        using var provider = _world.CreateProvider();
        var first = await provider.GetAccessTokenAsync(_world.ResourceUri, _world.AsUri).Within();

        var acted = provider.InvalidateCache(first.AccessToken);
        var second = await provider.GetAccessTokenAsync(_world.ResourceUri, _world.AsUri).Within();

        Assert.True(acted);
        Assert.Equal("as-access-2", second.AccessToken);
        Assert.Equal(1, _world.As.MetadataRequests); // a rejected token does not drop metadata
    }

    [Fact]
    public async Task InvalidateCacheRejected_StaleToken_ReturnsFalseAndKeepsNewer()
    {
        using var provider = _world.CreateProvider();
        Assert.False(provider.InvalidateCache("nothing-cached"));
        var first = await provider.GetAccessTokenAsync(_world.ResourceUri, _world.AsUri).Within();
        provider.InvalidateCache(first.AccessToken);
        var second = await provider.GetAccessTokenAsync(_world.ResourceUri, _world.AsUri).Within();

        var acted = provider.InvalidateCache(first.AccessToken);
        var third = await provider.GetAccessTokenAsync(_world.ResourceUri, _world.AsUri).Within();

        Assert.False(acted);
        Assert.Same(second, third);
    }

    [Fact]
    public async Task InvalidateCacheRejected_OnlyTheKeyHoldingTheToken()
    {
        using var provider = _world.CreateProvider();
        var other = new Uri("https://other.example.com/mcp");
        var a = await provider.GetAccessTokenAsync(_world.ResourceUri, _world.AsUri).Within();
        var b = await provider.GetAccessTokenAsync(other, _world.AsUri).Within();

        Assert.True(provider.InvalidateCache(a.AccessToken));

        Assert.Same(b, await provider.GetAccessTokenAsync(other, _world.AsUri).Within());
        Assert.NotSame(a, await provider.GetAccessTokenAsync(_world.ResourceUri, _world.AsUri).Within());
    }

    [Fact]
    public async Task InvalidateCache_BothForms_AllocateNothingWith64Keys()
    {
        using var provider = new CrossApplicationAccessProvider(_world.Options(), _world.Handler.CreateClient(), loggerFactory: null, _world.Time);
        var tokens = new List<TokenContainer>();
        for (var i = 0; i < 64; i++)
        {
            tokens.Add(await provider.GetAccessTokenAsync(new Uri($"{CrossAppFixture.Resource}/{i}"), _world.AsUri).Within());
        }

        provider.InvalidateCache("not-cached"); // JIT
        Assert.Equal(0, State.AuthCoordinatorMapTests.LeastAllocated(static p => p.InvalidateCache("not-cached"), provider));
        Assert.Equal(0, State.AuthCoordinatorMapTests.LeastAllocated(static p => p.InvalidateCache(), provider));

        // And it did invalidate: every key exchanges again.
        var again = await provider.GetAccessTokenAsync(new Uri($"{CrossAppFixture.Resource}/7"), _world.AsUri).Within();
        Assert.NotSame(tokens[7], again);
    }

    [Fact]
    public async Task InvalidateCacheRejected_ManyKeysAndSupersededTokens_RetiresExactlyTheCachedOne()
    {
        // The index of issued tokens is pruned as it grows (four times the capacity): old tokens drop out, every token
        // still cached stays findable.
        using var provider = _world.CreateProvider(o => o.CacheCapacity = 2);
        var a = new Uri(CrossAppFixture.Resource + "/a");
        var b = new Uri(CrossAppFixture.Resource + "/b");
        var cachedB = await provider.GetAccessTokenAsync(b, _world.AsUri).Within();
        TokenContainer? cachedA = null;
        for (var i = 0; i < 20; i++)
        {
            var previous = cachedA;
            cachedA = await provider.GetAccessTokenAsync(a, _world.AsUri).Within();
            Assert.NotSame(previous, cachedA);
            if (previous is not null)
            {
                Assert.False(provider.InvalidateCache(previous.AccessToken)); // superseded: not cached any more
            }

            Assert.True(provider.InvalidateCache(cachedA.AccessToken));
        }

        Assert.Same(cachedB, await provider.GetAccessTokenAsync(b, _world.AsUri).Within());
        Assert.True(provider.InvalidateCache(cachedB.AccessToken));
        Assert.NotSame(cachedB, await provider.GetAccessTokenAsync(b, _world.AsUri).Within());
    }

    [Fact]
    public async Task InvalidateCacheRejected_StormOf256ConcurrentRejections_OneNewExchange()
    {
        using var provider = _world.CreateProvider();
        var first = await provider.GetAccessTokenAsync(_world.ResourceUri, _world.AsUri).Within();
        var gate = _world.As.HoldTokens();

        var results = Enumerable.Range(0, 256).Select(_ =>
        {
            var acted = provider.InvalidateCache(first.AccessToken);
            return (acted, task: provider.GetAccessTokenAsync(_world.ResourceUri, _world.AsUri));
        }).ToArray();
        await gate.WaitForArrivalsAsync(1).Within();
        gate.Release();
        var tokens = await Task.WhenAll(results.Select(r => r.task)).Within();

        Assert.Equal(1, results.Count(r => r.acted));
        Assert.Equal(2, _world.As.TokenRequests);
        Assert.All(tokens, t => Assert.Equal("as-access-2", t.AccessToken));
    }

    [Fact]
    public async Task InvalidateCacheRejected_MidExchange_KeepsInFlightExchange()
    {
        using var provider = _world.CreateProvider();
        var gate = _world.Idp.HoldTokens();
        var inFlight = provider.GetAccessTokenAsync(_world.ResourceUri, _world.AsUri);
        await gate.WaitForArrivalsAsync(1).Within();

        Assert.False(provider.InvalidateCache("as-access-1"));
        gate.Release();
        var first = await inFlight.Within();

        Assert.Same(first, await provider.GetAccessTokenAsync(_world.ResourceUri, _world.AsUri).Within());
        Assert.Equal(1, _world.Idp.TokenRequests);
    }

    [Fact]
    public async Task GetAccessTokenAsync_FirstCallerCancelled_OthersStillServedBySameExchange()
    {
        using var provider = _world.CreateProvider();
        var gate = _world.Idp.HoldTokens();
        using var cts = new CancellationTokenSource();

        var first = provider.GetAccessTokenAsync(_world.ResourceUri, _world.AsUri, cts.Token);
        await gate.WaitForArrivalsAsync(1).Within();
        var second = provider.GetAccessTokenAsync(_world.ResourceUri, _world.AsUri);
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => first);
        Assert.False(second.IsCompleted);
        gate.Release();
        var token = await second.Within();

        Assert.Equal("as-access-1", token.AccessToken);
        Assert.Equal(1, _world.Idp.TokenRequests);
        Assert.Equal(1, _world.Callbacks);
        Assert.False(_world.CallbackTokens[0].IsCancellationRequested);
    }

    [Fact]
    public async Task GetAccessTokenAsync_EveryWaiterCancelled_ExchangeCancelledAndNextCallStartsOver()
    {
        using var provider = _world.CreateProvider();
        _world.CallbackGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var cts1 = new CancellationTokenSource();
        using var cts2 = new CancellationTokenSource();

        var a = provider.GetAccessTokenAsync(_world.ResourceUri, _world.AsUri, cts1.Token);
        var b = provider.GetAccessTokenAsync(_world.ResourceUri, _world.AsUri, cts2.Token);
        await _world.CallbackEntered.Task.Within();
        await cts1.CancelAsync();
        Assert.False(_world.CallbackTokens[0].IsCancellationRequested);
        await cts2.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => a);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => b);
        Assert.True(_world.CallbackTokens[0].IsCancellationRequested);

        _world.CallbackGate = null;
        var token = await provider.GetAccessTokenAsync(_world.ResourceUri, _world.AsUri).Within();
        Assert.Equal(2, _world.Callbacks);
        Assert.Equal(0 + 1, _world.Idp.TokenRequests);
        Assert.Equal("as-access-1", token.AccessToken);
    }

    [Fact]
    public async Task Dispose_MidExchange_CancelsExchangeAndLaterCallsFail()
    {
        var provider = _world.CreateProvider();
        _world.CallbackGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var pending = provider.GetAccessTokenAsync(_world.ResourceUri, _world.AsUri);
        await _world.CallbackEntered.Task.Within();

        provider.Dispose();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pending);
        await Assert.ThrowsAsync<ObjectDisposedException>(() => provider.GetAccessTokenAsync(_world.ResourceUri, _world.AsUri));
    }
}
