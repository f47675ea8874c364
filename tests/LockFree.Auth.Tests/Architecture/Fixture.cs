// Deliberately broken layering for LayeringTests.Checker_ReportsAWrongWayReference: never referenced elsewhere.
#pragma warning disable CA1812 // never instantiated: only their references matter
namespace LockFree.Auth.Tests.Architecture.Fixture.Bottom
{
    internal sealed class ReachesRoot { public RootType<int>? Root { get; set; } }
}

namespace LockFree.Auth.Tests.Architecture.Fixture
{
    internal sealed class RootType<T> { public T? Value { get; set; } }
}

namespace LockFree.Auth.Tests.Architecture.Fixture.Low
{
    internal sealed class Base { public RootType<string>? Root { get; set; } }

    internal sealed class ReachesUp { public High.ReachesDown? Up { get; set; } }
}

namespace LockFree.Auth.Tests.Architecture.Fixture.High
{
    internal sealed class ReachesDown { public Low.Base? Down { get; set; } }

    internal sealed class KnowsSibling { public Sibling.Other? Other { get; set; } }
}

namespace LockFree.Auth.Tests.Architecture.Fixture.Sibling
{
    internal sealed class Other { }
}

namespace LockFree.Auth.Tests.Architecture.Fixture.Elsewhere
{
    internal sealed class Stray { }
}
