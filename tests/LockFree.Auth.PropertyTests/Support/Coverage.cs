using System.Collections.Concurrent;

namespace LockFree.Auth.PropertyTests.Support;

/// <summary>
/// Which situations a property's generated runs reached (counted by the model while it runs). A property whose
/// generator silently stopped reaching, say, refresh-ahead would still pass; asserting coverage makes it fail.
/// </summary>
internal sealed class Coverage
{
    private readonly ConcurrentDictionary<string, int> _reached = new(StringComparer.Ordinal);

    public void Reach(string situation) => _reached.AddOrUpdate(situation, 1, static (_, n) => n + 1);

    public IReadOnlyDictionary<string, int> Reached => _reached;

    public string Describe() => string.Join("\n", _reached.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"  {p.Value,7}  {p.Key}"));
}
