using System.Runtime.InteropServices;
using ModWsgi.Cli;
using ModWsgi.Cli.BuildServer;

// Ctrl+C, SIGTERM, SIGHUP and SIGQUIT cancel the command's token: Core stops the build and removes its build container,
// run stops its container. A second Ctrl+C ends the process at once, except within a second of the first:
// a signal sent to the process group (timeout, some CI runners) can arrive twice for one keypress.
using var cancellation = new CancellationTokenSource();
long firstSignal = 0;
Console.CancelKeyPress += (_, e) =>
{
    var now = Environment.TickCount64;
    var first = Interlocked.CompareExchange(ref firstSignal, now, 0);
    if (first != 0 && now - first > 1000)
        return;
    e.Cancel = true;
    if (first == 0)
    {
        Console.Error.WriteLine("Cancelling (Ctrl+C again to stop at once)...");
        cancellation.Cancel();
    }
};
// SIGTERM (timeout, docker stop, CI), SIGHUP (the terminal closed) and SIGQUIT cancel the same way; the command
// then ends with 130 once the build container is removed.
using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Cancel);
using var hangUp = PosixSignalRegistration.Create(PosixSignal.SIGHUP, Cancel);
using var quit = PosixSignalRegistration.Create(PosixSignal.SIGQUIT, Cancel);

// build and publish go to this tool's build server when one runs (it keeps the code loaded and compiled);
// the first build starts one for the next and runs here.
if (BuildServerEndpoint.Serves(args) && BuildServerEndpoint.Enabled(Environment.GetEnvironmentVariable))
{
    var endpoint = BuildServerEndpoint.ForThisTool(Environment.GetEnvironmentVariable);
    if (await BuildServerClient.TryRunAsync(endpoint, args, Console.Out, Console.Error, cancellation.Token) is { } served)
        return served;
    if (BuildServerClient.ShouldStart(endpoint))
        BuildServerClient.StartInBackground(endpoint);
}

return await new ModWsgiCli(new CliHost()).InvokeAsync(args, cancellation.Token);

void Cancel(PosixSignalContext context)
{
    context.Cancel = true;
    cancellation.Cancel();
}
