namespace LockFree.Auth.Tests.Architecture;

/// <summary>
/// The library's layers point one way (spec/architecture.md): diagnostics ← core ← DPoP keys ← protocol ← providers,
/// and the two providers do not know each other. A wrong-way reference fails this test with the type and the namespace
/// it reached.
/// </summary>
public sealed class LayeringTests
{
    [Fact]
    public void Library_DependenciesPointOneWay()
    {
        var violations = Layers.Violations(typeof(AuthCoordinatorOptions).Assembly, Layers.Library);
        Assert.True(violations.Count == 0,
            "Wrong-way dependencies in LockFree.Auth (spec/architecture.md):\n  " + string.Join("\n  ", violations));
    }

    [Fact]
    public void Checker_ReportsAWrongWayReference()
    {
        // The fixture below has a low layer that reaches up and a namespace in no layer: the checker must name both.
        var layers = new List<Layer>
        {
            new("bottom", ["LockFree.Auth.Tests.Architecture.Fixture.Bottom"]),
            new("root", ["LockFree.Auth.Tests.Architecture.Fixture"]),
            new("low", ["LockFree.Auth.Tests.Architecture.Fixture.Low"]),
            new("high", ["LockFree.Auth.Tests.Architecture.Fixture.High", "LockFree.Auth.Tests.Architecture.Fixture.Sibling"], SiblingsIndependent: true),
        };
        var violations = Layers.Violations(typeof(LayeringTests).Assembly, layers)
            .Where(v => v.StartsWith("LockFree.Auth.Tests.Architecture.Fixture.", StringComparison.Ordinal))
            .ToList();

        Assert.Contains(violations, v => v.StartsWith("LockFree.Auth.Tests.Architecture.Fixture.Low.ReachesUp ", StringComparison.Ordinal)
            && v.Contains("depends on LockFree.Auth.Tests.Architecture.Fixture.High", StringComparison.Ordinal));
        Assert.Contains(violations, v => v.StartsWith("LockFree.Auth.Tests.Architecture.Fixture.High.KnowsSibling ", StringComparison.Ordinal)
            && v.Contains("depends on LockFree.Auth.Tests.Architecture.Fixture.Sibling", StringComparison.Ordinal));
        // A namespace that encloses the others (like LockFree.Auth itself) is matched by its types, generics included,
        // and not by prefix: Bottom reaching the root's generic type is caught, Low reaching the root is allowed.
        Assert.Contains(violations, v => v.StartsWith("LockFree.Auth.Tests.Architecture.Fixture.Bottom.ReachesRoot ", StringComparison.Ordinal));
        Assert.DoesNotContain(violations, v => v.StartsWith("LockFree.Auth.Tests.Architecture.Fixture.Low.Base ", StringComparison.Ordinal));
        Assert.DoesNotContain(violations, v => v.StartsWith("LockFree.Auth.Tests.Architecture.Fixture.RootType", StringComparison.Ordinal));
        Assert.Contains(violations, v => v.Contains("Fixture.Elsewhere.Stray: namespace", StringComparison.Ordinal));
        Assert.DoesNotContain(violations, v => v.StartsWith("LockFree.Auth.Tests.Architecture.Fixture.High.ReachesDown ", StringComparison.Ordinal));
    }
}
