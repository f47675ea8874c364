using System.Reflection;
using System.Reflection.Emit;
using System.Text.RegularExpressions;

namespace LockFree.Auth.Tests.State;

/// <summary>
/// I10: nothing in the state core takes a lock or blocks. Checked twice: on the compiled IL of every type in
/// src/LockFree.Auth/State (including compiler-generated async state machines and lambdas), and on the source text
/// (the <c>lock</c> statement). The banned-API analyzer (eng/BannedSymbols.txt) enforces the same at build time.
/// </summary>
public sealed partial class NoLocksTests
{
    private static readonly string[] ForbiddenTypes =
    [
        "System.Threading.Monitor",
        "System.Threading.Lock",
        "System.Threading.SemaphoreSlim",
        "System.Threading.Semaphore",
        "System.Threading.Mutex",
        "System.Threading.ReaderWriterLockSlim",
        "System.Threading.ManualResetEventSlim",
        "System.Threading.ManualResetEvent",
        "System.Threading.AutoResetEvent",
        "System.Threading.SpinLock",
        "System.Threading.Barrier",
        "System.Threading.CountdownEvent",
    ];

    private static readonly (string Type, string Method)[] ForbiddenMethods =
    [
        ("System.Threading.Tasks.Task", "Wait"),
        ("System.Threading.Tasks.Task", "WaitAll"),
        ("System.Threading.Tasks.Task", "WaitAny"),
        ("System.Threading.Tasks.Task`1", "get_Result"),
        ("System.Runtime.CompilerServices.TaskAwaiter", "GetResult"),
        ("System.Runtime.CompilerServices.TaskAwaiter`1", "GetResult"),
        ("System.Threading.Thread", "Sleep"),
        ("System.Threading.Thread", "Join"),
        ("System.Threading.WaitHandle", "WaitOne"),
    ];

    public static TheoryData<string> StateTypes()
    {
        var data = new TheoryData<string>();
        foreach (var type in StateCoreTypes()) { data.Add(type.FullName!); }
        return data;
    }

    [Theory]
    [MemberData(nameof(StateTypes))]
    public void StateCoreType_CompiledIL_CallsNoLockOrBlockingWait(string typeName)
    {
        var type = typeof(AuthCell<>).Assembly.GetType(typeName, throwOnError: true)!;
        var offenders = new List<string>();
        foreach (var (method, callee) in CalledMethods(type))
        {
            var declaring = callee.DeclaringType is { IsGenericType: true } g ? g.GetGenericTypeDefinition().FullName : callee.DeclaringType?.FullName;
            if (declaring is null) { continue; }
            // Reading Result of a task that is known to be complete is the one allowed use (AuthSnapshot checks
            // IsCompletedSuccessfully first); awaiters' GetResult is what `await` compiles to and never blocks.
            if (method.DeclaringType!.Name.Contains('<', StringComparison.Ordinal) && callee.Name == "GetResult") { continue; }
            if (type == typeof(AuthSnapshot<>) && callee.Name == "get_Result" && method.Name == nameof(AuthSnapshot<TokenContainer>.FindInvariantViolation)) { continue; }

            if (ForbiddenTypes.Contains(declaring) || ForbiddenMethods.Contains((declaring, callee.Name)))
            {
                offenders.Add($"{method.DeclaringType!.Name}.{method.Name} calls {declaring}.{callee.Name}");
            }
        }

        Assert.Empty(offenders);
    }

    [Fact]
    public void StateCore_IlScanner_FindsALockWhereThereIsOne()
    {
        // The check above must be able to fail: the same scanner sees the Monitor.Enter that `lock` compiles to.
        var callees = CalledMethods(typeof(LockingSample)).Select(c => c.Callee.DeclaringType!.FullName + "." + c.Callee.Name).ToList();
        Assert.Contains("System.Threading.Monitor.Enter", callees);
    }

    [Fact]
    public void StateCore_SourceText_HasNoLockStatement()
    {
        var files = Directory.GetFiles(Path.Combine(RepositoryPaths.Source, "State"), "*.cs", SearchOption.AllDirectories);
        Assert.NotEmpty(files);
        var offenders = files
            .SelectMany(f => File.ReadAllLines(f).Select((line, i) => (f, line, i)))
            .Where(x => LockStatement().IsMatch(x.line) && !x.line.TrimStart().StartsWith("//", StringComparison.Ordinal))
            .Select(x => $"{Path.GetFileName(x.f)}:{x.i + 1}: {x.line.Trim()}")
            .ToList();
        Assert.Empty(offenders);
    }

    [Fact]
    public void Source_UsesNoWallClock_TimeComesFromTimeProvider()
    {
        var files = Directory.GetFiles(Path.Combine(RepositoryPaths.Root, "src"), "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal));
        var offenders = files
            .SelectMany(f => File.ReadAllLines(f).Select((line, i) => (f, line, i)))
            .Where(x => WallClock().IsMatch(x.line))
            .Select(x => $"{Path.GetRelativePath(RepositoryPaths.Root, x.f)}:{x.i + 1}")
            .ToList();
        Assert.Empty(offenders);

        // The analyzer that fails the build on the same APIs is configured for every project under src/.
        var banned = File.ReadAllText(Path.Combine(RepositoryPaths.Root, "eng", "BannedSymbols.txt"));
        foreach (var api in new[] { "P:System.DateTime.Now", "P:System.DateTime.UtcNow", "P:System.DateTimeOffset.Now", "P:System.DateTimeOffset.UtcNow", "T:System.Threading.Monitor", "T:System.Threading.SemaphoreSlim" })
        {
            Assert.Contains(api + ";", banned, StringComparison.Ordinal);
        }
    }

    private static IEnumerable<Type> StateCoreTypes() =>
        typeof(AuthCell<>).Assembly.GetTypes()
            .Where(t => t.Namespace == "LockFree.Auth" && t.DeclaringType is null)
            .Where(t => File.Exists(Path.Combine(RepositoryPaths.Source, "State", StripArity(t.Name) + ".cs")));

    private static string StripArity(string name) => name.Split('`')[0];

    /// <summary>Every method called (call, callvirt, newobj) by the type, its nested types and generated closures.</summary>
    private static IEnumerable<(MethodBase Method, MethodBase Callee)> CalledMethods(Type type)
    {
        var types = new List<Type> { type };
        types.AddRange(AllNested(type));
        const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
        foreach (var t in types)
        {
            foreach (var method in t.GetMethods(all).Cast<MethodBase>().Concat(t.GetConstructors(all)))
            {
                var il = method.GetMethodBody()?.GetILAsByteArray();
                if (il is null) { continue; }
                foreach (var token in CallTokens(il))
                {
                    MethodBase? callee = null;
                    try { callee = method.Module.ResolveMethod(token, t.IsGenericType ? t.GetGenericArguments() : null, method.IsGenericMethod ? method.GetGenericArguments() : null); }
                    catch (ArgumentException) { }
                    if (callee is not null) { yield return (method, callee); }
                }
            }
        }
    }

    private static IEnumerable<Type> AllNested(Type type)
    {
        foreach (var nested in type.GetNestedTypes(BindingFlags.Public | BindingFlags.NonPublic))
        {
            yield return nested;
            foreach (var deeper in AllNested(nested)) { yield return deeper; }
        }
    }

    /// <summary>Walks the IL with operand sizes from the runtime's own opcode table, yielding method tokens.</summary>
    private static IEnumerable<int> CallTokens(byte[] il)
    {
        var i = 0;
        while (i < il.Length)
        {
            OpCode op;
            if (il[i] == 0xFE) { op = TwoByte[il[i + 1]]; i += 2; }
            else { op = OneByte[il[i]]; i += 1; }

            if (op == OpCodes.Call || op == OpCodes.Callvirt || op == OpCodes.Newobj || op == OpCodes.Ldftn)
            {
                yield return BitConverter.ToInt32(il, i);
            }

            i += op.OperandType switch
            {
                OperandType.InlineNone => 0,
                OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar => 1,
                OperandType.InlineVar => 2,
                OperandType.InlineI8 or OperandType.InlineR => 8,
                OperandType.InlineSwitch => 4 + (4 * BitConverter.ToInt32(il, i)),
                _ => 4,
            };
        }
    }

    private static readonly OpCode[] OneByte = new OpCode[256];
    private static readonly OpCode[] TwoByte = new OpCode[256];

    static NoLocksTests()
    {
        foreach (var field in typeof(OpCodes).GetFields(BindingFlags.Public | BindingFlags.Static))
        {
            var op = (OpCode)field.GetValue(null)!;
            var value = (ushort)op.Value;
            if (op.Size == 1) { OneByte[value] = op; } else { TwoByte[value & 0xFF] = op; }
        }
    }

    [GeneratedRegex(@"\block\s*\(")]
    private static partial Regex LockStatement();

    [GeneratedRegex(@"\b(DateTime|DateTimeOffset)\s*\.\s*(Now|UtcNow|Today)\b")]
    private static partial Regex WallClock();

    private sealed class LockingSample
    {
        private readonly object _gate = new();
        private int _value;

        public void Increment()
        {
            lock (_gate) { _value++; }
        }
    }
}
