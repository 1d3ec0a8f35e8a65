using Microsoft.Extensions.Logging;

namespace ModWsgi.Cli;

/// <summary>
/// Core's build log on the console, shaped like MSBuild's: progress (the " -----> Step" headers and step
/// output) as plain lines on stdout, warnings and errors on stderr with their MODWSGI code. Written
/// synchronously so build output and the final error line never interleave out of order.
/// </summary>
internal sealed class ConsoleLogger(TextWriter output, TextWriter error, LogLevel minimum) : ILogger
{
    private readonly Lock _lock = new();

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= minimum && logLevel != LogLevel.None;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (!IsEnabled(logLevel))
            return;
        var message = formatter(state, exception);
        // Core names the diagnostic code in the event's name (e.g. MODWSGI2010).
        var code = eventId.Name is { Length: > 0 } name ? " " + name : "";
        lock (_lock)
        {
            switch (logLevel)
            {
                case LogLevel.Warning:
                    error.WriteLine($"warning{code}: {message}");
                    break;
                case >= LogLevel.Error:
                    error.WriteLine($"error{code}: {message}");
                    break;
                default:
                    output.WriteLine(message);
                    break;
            }
            if (exception is not null && minimum <= LogLevel.Debug)
                error.WriteLine(exception);
            output.Flush();
        }
    }
}
