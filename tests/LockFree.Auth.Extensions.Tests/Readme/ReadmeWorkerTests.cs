using System.Text;
using LockFree.Auth.ClientCredentials;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LockFree.Auth.Extensions.Tests.Readme;

/// <summary>
/// The README's worker-service example is exactly the compiled code of <see cref="ReadmeWorkerProgram"/> and
/// <see cref="InvoiceWorker"/>; its appsettings.json block binds and validates; the worker calls the API with a token.
/// </summary>
public sealed class ReadmeWorkerTests
{
    private const string Section = "### Calling an OAuth-protected API: client credentials with dependency injection";

    [Fact]
    public void Readme_WorkerExample_IsTheCompiledSnippet()
    {
        var root = Root();
        var readmeCode = Block(File.ReadAllText(Path.Combine(root, "README.md")).Replace("\r\n", "\n"), "```csharp\n");

        var source = File.ReadAllText(Path.Combine(root, "tests", "LockFree.Auth.Extensions.Tests", "Readme", "ReadmeWorker.cs")).Replace("\r\n", "\n");
        var lines = source.Split('\n');
        var usings = lines.TakeWhile(l => l.StartsWith("using ", StringComparison.Ordinal)).ToList();
        var regions = new List<string>();
        var current = (List<string>?)null;
        foreach (var line in lines)
        {
            if (line.Contains("// README:BEGIN", StringComparison.Ordinal))
            {
                current = [];
                continue;
            }

            if (line.Contains("// README:END", StringComparison.Ordinal))
            {
                var indent = current!.Where(l => l.Trim().Length > 0).Min(l => l.Length - l.TrimStart().Length);
                regions.Add(string.Join("\n", current!.Select(l => l.Length >= indent ? l[indent..] : l.TrimStart())));
                current = null;
                continue;
            }

            current?.Add(line);
        }

        var snippet = string.Join("\n", usings) + "\n\n" + string.Join("\n\n", regions);
        Assert.Equal(snippet, readmeCode);
    }

    [Fact]
    public void Readme_AppSettings_BindAndValidate()
    {
        var json = Block(File.ReadAllText(Path.Combine(Root(), "README.md")).Replace("\r\n", "\n"), "```json\n");
        var configuration = new ConfigurationBuilder().AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json))).Build();
        var services = new ServiceCollection();
        services.AddClientCredentialsTokenManagement().AddClient("billing", configuration.GetSection("LockFree:Clients:billing"));
        using var provider = services.BuildServiceProvider();

        var options = provider.GetRequiredService<IOptionsMonitor<ClientCredentialsClientOptions>>().Get("billing");

        Assert.Equal(new Uri("https://login.example.com/oauth2/token"), options.TokenEndpoint);
        Assert.Equal("api://billing/.default", options.Scope);
        Assert.NotNull(configuration["BillingApi:BaseAddress"]);
    }

    [Fact]
    public async Task InvoiceWorker_CallsTheApiWithAToken()
    {
        await using var authority = await LoopbackAuthority.StartAsync();
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["LockFree:Clients:billing:TokenEndpoint"] = authority.TokenEndpoint,
            ["LockFree:Clients:billing:ClientId"] = LoopbackAuthority.ClientId,
            ["LockFree:Clients:billing:ClientSecret"] = LoopbackAuthority.ClientSecret,
            ["BillingApi:BaseAddress"] = authority.Origin,
        });
        builder.Services.AddClientCredentialsTokenManagement()
            .AddClient("billing", builder.Configuration.GetSection("LockFree:Clients:billing"));
        builder.Services.AddClientCredentialsHttpClient("billing-api", "billing",
            client => client.BaseAddress = new Uri(builder.Configuration["BillingApi:BaseAddress"]!));
        builder.Services.AddHostedService<InvoiceWorker>();
        using var host = builder.Build();

        await host.StartAsync().Within();
        await authority.InvoicesServed.Task.Within();
        await host.StopAsync().Within();

        Assert.Equal(1, authority.Exchanges);
    }

    private static string Block(string readme, string fence)
    {
        var section = readme.IndexOf(Section, StringComparison.Ordinal);
        Assert.True(section >= 0, $"README.md has no '{Section}' section");
        var start = readme.IndexOf(fence, section, StringComparison.Ordinal) + fence.Length;
        var end = readme.IndexOf("```", start, StringComparison.Ordinal);
        return readme[start..end].TrimEnd('\n');
    }

    private static string Root()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "LockFree.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("The repository root (LockFree.sln) was not found above " + AppContext.BaseDirectory);
    }
}
