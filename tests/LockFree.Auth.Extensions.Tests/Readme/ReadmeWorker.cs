using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

// CA1873 (logging argument evaluation) is for hot paths; the README shows the plain logging call a worker would write.
#pragma warning disable CA1873

namespace LockFree.Auth.Extensions.Tests.Readme;

/// <summary>
/// The README's worker-service example, compiled: the lines between the markers (and the using directives above) must
/// equal the README's code block (<see cref="ReadmeWorkerTests"/>). <c>Run</c> is not called (it blocks until shutdown);
/// the worker is run against a loopback server by the tests.
/// </summary>
internal static class ReadmeWorkerProgram
{
    public static void Run(string[] args)
    {
        // README:BEGIN
        var builder = Host.CreateApplicationBuilder(args);
        builder.Services.AddClientCredentialsTokenManagement()
            .AddClient("billing", builder.Configuration.GetSection("LockFree:Clients:billing"));
        builder.Services.AddClientCredentialsHttpClient("billing-api", "billing",
            client => client.BaseAddress = new Uri(builder.Configuration["BillingApi:BaseAddress"]!));
        builder.Services.AddHostedService<InvoiceWorker>();
        builder.Build().Run();   // a missing or invalid setting fails here, naming its key
        // README:END
    }
}

// README:BEGIN
public sealed class InvoiceWorker(IHttpClientFactory clients, ILogger<InvoiceWorker> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMinutes(1));
        do
        {
            using var api = clients.CreateClient("billing-api");   // the token is added, cached and refreshed for you
            var invoices = await api.GetStringAsync(new Uri("/invoices/open", UriKind.Relative), stoppingToken);
            logger.LogInformation("Open invoices: {Invoices}", invoices);
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }
}
// README:END
