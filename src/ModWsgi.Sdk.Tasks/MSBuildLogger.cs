using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;
using Microsoft.Extensions.Logging;

namespace ModWsgi.Sdk.Tasks;

/// <summary>
/// Bridges Core's ILogger to MSBuild's log. Build output is logged at high importance so it streams in a
/// plain `dotnet build`; a warning's EventId carries its MODWSGI code.
/// </summary>
internal sealed class MSBuildLogger(TaskLoggingHelper log) : Microsoft.Extensions.Logging.ILogger
{
    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Debug;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        var message = formatter(state, exception);
        switch (logLevel)
        {
            case LogLevel.Warning:
                log.LogWarning(null, eventId.Name, null, null, 0, 0, 0, 0, message);
                break;
            case >= LogLevel.Error:
                log.LogError(null, eventId.Name, null, null, 0, 0, 0, 0, message);
                break;
            case LogLevel.Information:
                log.LogMessage(MessageImportance.High, message);
                break;
            default:
                log.LogMessage(MessageImportance.Low, message);
                break;
        }
    }
}
