namespace LockFree.Auth.PropertyTests.Support;

/// <summary>A fact that runs only when the named environment variable is set to <c>1</c> (measurements, soaks).</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class OptInFactAttribute : FactAttribute
{
    public OptInFactAttribute(string variable)
    {
        Variable = variable;
        if (Environment.GetEnvironmentVariable(variable) != "1")
        {
            Skip = $"opt-in: set {variable}=1 to run";
        }
    }

    public string Variable { get; }
}
