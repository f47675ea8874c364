using LockFree.Cli;

return await CliApp.RunAsync(args, CliEnvironment.FromProcess());
