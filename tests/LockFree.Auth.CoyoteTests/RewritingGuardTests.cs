using Microsoft.Coyote.Rewriting;

namespace LockFree.Auth.CoyoteTests;

/// <summary>
/// Without binary rewriting Coyote controls nothing and reports false deadlocks for correct code: these guards fail
/// fast when the build's rewrite step did not run (for example a build with CoyoteRewrite=false).
/// </summary>
public sealed class RewritingGuardTests
{
    [Fact]
    public void ProductAssembly_AfterBuild_IsRewritten() =>
        Assert.True(RewritingEngine.IsAssemblyRewritten(typeof(AuthCoordinator<>).Assembly), "LockFree.Auth.dll in the test output is not rewritten: build the Coyote test project (its CoyoteRewrite target rewrites after build).");

    [Fact]
    public void TestAssembly_AfterBuild_IsRewritten() =>
        Assert.True(RewritingEngine.IsAssemblyRewritten(typeof(RewritingGuardTests).Assembly), "LockFree.Auth.CoyoteTests.dll is not rewritten: build the Coyote test project (its CoyoteRewrite target rewrites after build).");
}
