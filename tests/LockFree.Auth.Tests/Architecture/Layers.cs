using System.Reflection;
using System.Text.RegularExpressions;
using NetArchTest.Rules;

namespace LockFree.Auth.Tests.Architecture;

/// <summary>
/// The layers of an assembly, lowest first, each a set of namespaces (spec/architecture.md). A type may depend on its
/// own layer and on lower layers; namespaces listed together in one layer are independent of each other unless the
/// layer says otherwise.
/// </summary>
internal sealed record Layer(string Name, IReadOnlyList<string> Namespaces, bool SiblingsIndependent = false);

internal static class Layers
{
    /// <summary>LockFree.Auth: diagnostics ← core (state and shared vocabulary) ← DPoP keys ← protocol ← providers.</summary>
    public static readonly IReadOnlyList<Layer> Library =
    [
        new("diagnostics", ["LockFree.Auth.Diagnostics"]),
        new("core", ["LockFree.Auth"]),
        new("dpop-keys", ["LockFree.Auth.DPoP"]),
        new("protocol", ["LockFree.Auth.Protocol"]),
        new("providers", ["LockFree.Auth.OAuth", "LockFree.Auth.CrossAppAccess", "LockFree.Auth.ClientCredentials"], SiblingsIndependent: true),
    ];

    /// <summary>
    /// Every dependency in <paramref name="assembly"/> that points the wrong way, as "Type (namespace, layer) → namespace
    /// (layer)", plus every type whose namespace belongs to no layer. Empty when the layering holds.
    /// </summary>
    public static IReadOnlyList<string> Violations(Assembly assembly, IReadOnlyList<Layer> layers)
    {
        var violations = new List<string>();
        var all = layers.SelectMany(l => l.Namespaces).ToHashSet(StringComparer.Ordinal);

        // A namespace outside the layer map would escape the rules: every type belongs somewhere (compiler-generated
        // types in the global namespace excepted).
        foreach (var type in assembly.GetTypes())
        {
            if (string.IsNullOrEmpty(type.Namespace) || type.Name.StartsWith('<')) continue;
            if (!all.Contains(type.Namespace)) violations.Add($"{type.FullName}: namespace {type.Namespace} is in no layer");
        }

        for (var i = 0; i < layers.Count; i++)
        {
            foreach (var ns in layers[i].Namespaces)
            {
                // Forbidden: every namespace of every higher layer, and the siblings of an independent layer.
                var forbidden = layers.Skip(i + 1).SelectMany(l => l.Namespaces)
                    .Concat(layers[i].SiblingsIndependent ? layers[i].Namespaces.Where(n => n != ns) : [])
                    .SelectMany(n => AsDependencyNames(assembly, n, all))
                    .ToArray();
                if (forbidden.Length == 0) continue;
                var result = Types.InAssembly(assembly)
                    .That().ResideInNamespaceMatching("^" + Regex.Escape(ns) + "$")
                    .ShouldNot().HaveDependencyOnAny(forbidden)
                    .GetResult();
                if (result.IsSuccessful) continue;
                foreach (var type in result.FailingTypes ?? [])
                {
                    var targets = DependenciesOf(type, forbidden);
                    violations.Add($"{type.FullName} ({ns}, layer {layers[i].Name}) depends on {string.Join(", ", targets)}");
                }
            }
        }
        return violations;
    }

    // NetArchTest matches a dependency name as a prefix on namespace boundaries, so "LockFree.Auth" would also match
    // "LockFree.Auth.Protocol.X". A namespace that encloses other layers' namespaces is therefore named by its own
    // types' full names (generic arity included, e.g. "LockFree.Auth.AuthCoordinator`1").
    private static IEnumerable<string> AsDependencyNames(Assembly assembly, string ns, HashSet<string> all) =>
        all.Any(other => other.StartsWith(ns + ".", StringComparison.Ordinal))
            ? assembly.GetTypes().Where(t => t.Namespace == ns && !t.IsNested && !t.Name.StartsWith('<')).Select(t => t.FullName!)
            : [ns];

    // Which of the forbidden namespaces a failing type reaches, for the message (NetArchTest says only which type).
    private static IEnumerable<string> DependenciesOf(Type type, string[] forbidden) =>
        forbidden.Where(f => Types.InAssembly(type.Assembly).That().HaveNameMatching("^" + Regex.Escape(type.Name) + "$")
            .And().ResideInNamespaceMatching("^" + Regex.Escape(type.Namespace ?? "") + "$").ShouldNot().HaveDependencyOn(f).GetResult().IsSuccessful is false)
            .DefaultIfEmpty("(a forbidden namespace)");
}
