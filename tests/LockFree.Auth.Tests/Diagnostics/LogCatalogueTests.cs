using System.Reflection;
using LockFree.Auth.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace LockFree.Auth.Tests.Diagnostics;

/// <summary>
/// The one log catalogue (Diagnostics/Log.cs, spec/architecture.md): one class, a distinct event-ID range per component,
/// no message that can carry a secret; the core's transitions are Debug events.
/// </summary>
public sealed class LogCatalogueTests
{
    private static readonly Dictionary<string, (int Low, int High)> s_ranges = new(StringComparer.Ordinal)
    {
        ["Core"] = (1000, 1099),
        ["Protocol"] = (2000, 2099),
        ["ClientOAuth"] = (3000, 3099),
        ["SystemBrowser"] = (3100, 3199),
        ["CrossApp"] = (4000, 4099),
        ["Sharing"] = (5000, 5099),
        ["ClientCredentials"] = (6000, 6099),
    };

    private static IEnumerable<(Type Component, MethodInfo Method, LoggerMessageAttribute Message)> Messages() =>
        from component in typeof(Log).GetNestedTypes(BindingFlags.NonPublic | BindingFlags.Public)
        from method in component.GetMethods(BindingFlags.Static | BindingFlags.NonPublic | BindingFlags.Public)
        let attribute = method.GetCustomAttribute<LoggerMessageAttribute>()
        where attribute is not null
        select (component, method, attribute);

    [Fact]
    public void Catalogue_IsTheOnlyPlaceWithLoggerMessages()
    {
        var elsewhere = typeof(AuthCoordinatorOptions).Assembly.GetTypes()
            .Where(t => t != typeof(Log) && t.DeclaringType != typeof(Log))
            .SelectMany(t => t.GetMethods(BindingFlags.Static | BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public | BindingFlags.DeclaredOnly)
                .Where(m => m.GetCustomAttribute<LoggerMessageAttribute>() is not null)
                .Select(m => $"{t.FullName}.{m.Name}"))
            .ToList();
        Assert.True(elsewhere.Count == 0, "Log messages outside Diagnostics/Log.cs: " + string.Join(", ", elsewhere));
    }

    [Fact]
    public void EventIds_AreDistinctAndInTheirComponentsRange()
    {
        var messages = Messages().ToList();
        Assert.NotEmpty(messages);
        foreach (var (component, method, message) in messages)
        {
            Assert.True(s_ranges.TryGetValue(component.Name, out var range), $"Log.{component.Name} has no event-ID range in the catalogue's table.");
            Assert.True(message.EventId >= range.Low && message.EventId <= range.High,
                $"Log.{component.Name}.{method.Name} has event ID {message.EventId}, outside {range.Low}–{range.High}.");
        }

        var duplicates = messages.GroupBy(m => m.Message.EventId).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        Assert.True(duplicates.Count == 0, "Event IDs used twice: " + string.Join(", ", duplicates));
    }

    [Fact]
    public void NoMessage_HasAParameterThatCouldCarryASecret()
    {
        string[] secretish = ["token", "secret", "code", "verifier", "assertion", "password", "jag", "idtoken", "nonce", "proof"];
        var suspicious = Messages()
            .SelectMany(m => m.Method.GetParameters().Skip(1).Select(p => (m.Component, m.Method, Parameter: p)))
            // Only parameters that can hold text can hold a secret (a flag such as hasCode cannot); an endpoint is shown
            // without query and fragment (Log.Endpoint), so "tokenEndpoint" is a place, not a token.
            .Where(x => x.Parameter.ParameterType == typeof(string) || x.Parameter.ParameterType == typeof(object) || x.Parameter.ParameterType == typeof(Uri))
            .Where(x => !x.Parameter.Name!.EndsWith("Endpoint", StringComparison.OrdinalIgnoreCase))
            .Where(x => secretish.Any(s => x.Parameter.Name!.Contains(s, StringComparison.OrdinalIgnoreCase)))
            .Select(x => $"Log.{x.Component.Name}.{x.Method.Name}({x.Parameter.Name})")
            .ToList();
        Assert.True(suspicious.Count == 0, "Parameters that could carry a secret: " + string.Join(", ", suspicious));
    }

    [Fact]
    public async Task Core_WritesDebugEventsForItsTransitions_AndNeverTheValue()
    {
        using var logs = new RecordingLoggerFactory();
        var time = new FakeTimeProvider();
        var release = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var calls = 0;
        using var coordinator = new AuthCoordinator<string>(
            (_, _) => Interlocked.Increment(ref calls) switch
            {
                1 => release.Task,
                2 => Task.FromException<string>(new InvalidOperationException("boom")),
                _ => Task.FromResult("SECRET-VALUE-3"),
            },
            timeProvider: time,
            options: new AuthCoordinatorOptions { Name = "catalogue", LoggerFactory = logs });

        var first = coordinator.GetAsync();
        var joined = coordinator.GetAsync();
        coordinator.Invalidate();                       // the result of generation 1 is discarded
        release.SetResult("SECRET-VALUE-1");
        Assert.Equal("SECRET-VALUE-1", await first.Within());
        await joined.Within();
        await Assert.ThrowsAsync<InvalidOperationException>(() => coordinator.GetAsync().Within());
        Assert.Equal("SECRET-VALUE-3", await coordinator.GetAsync().Within());

        var records = logs.Records.Where(r => r.Category == AuthCoordinator<string>.LoggerCategory).ToList();
        Assert.All(records, r => Assert.Equal(LogLevel.Debug, r.Level));
        Assert.All(records, r => Assert.DoesNotContain("SECRET-VALUE", r.Message, StringComparison.Ordinal));
        var ids = records.Select(r => r.EventId.Id).ToList();
        Assert.Contains(1000, ids); // started
        Assert.Contains(1001, ids); // joined
        Assert.Contains(1002, ids); // published
        Assert.Contains(1003, ids); // discarded
        Assert.Contains(1004, ids); // failed
        Assert.Contains(1005, ids); // invalidated
        Assert.Contains(records, r => r.EventId.Id == 1004 && r.Message.Contains("InvalidOperationException", StringComparison.Ordinal));
    }
}
