using Microsoft.Extensions.Logging;

namespace ModWsgi.Core.Tests;

/// <summary>Keeps what Core logs at or above <paramref name="minimum"/>, for assertions.</summary>
internal sealed class ListLogger(LogLevel minimum = LogLevel.Trace) : ILogger
{
    public List<string> Messages { get; } = [];

    /// <summary>The messages logged as warnings.</summary>
    public List<string> Warnings { get; } = [];

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= minimum;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (!IsEnabled(logLevel))
            return;
        Messages.Add(formatter(state, exception) + exception);
        if (logLevel == LogLevel.Warning)
            Warnings.Add(formatter(state, exception));
    }
}
