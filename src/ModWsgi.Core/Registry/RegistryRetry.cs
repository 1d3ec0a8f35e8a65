using System.Net;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.Retry;

namespace ModWsgi.Core.Registry;

/// <summary>How the registry client retries a step the registry failed transiently.</summary>
public sealed record RegistryRetryOptions
{
    /// <summary>Retries after the first attempt (0: none).</summary>
    public int MaxRetries { get; init; } = 5;

    /// <summary>The first backoff; each later one doubles (with jitter) up to <see cref="MaxDelay"/>.</summary>
    public TimeSpan BaseDelay { get; init; } = TimeSpan.FromSeconds(1);

    public TimeSpan MaxDelay { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The longest Retry-After honoured as given; a longer one waits this long.</summary>
    public TimeSpan MaxRetryAfter { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>The clock the waits between attempts run on (tests pass one that does not sleep).</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    public int Attempts => MaxRetries + 1;
}

/// <summary>A request that got no answer within the client's limit (a stalled registry or connection).</summary>
internal sealed class RegistryRequestTimedOutException(TimeSpan limit, Exception inner)
    : Exception($"no answer within {limit.TotalSeconds:0.#} seconds", inner)
{
    public TimeSpan Limit { get; } = limit;
}

/// <summary>
/// The Polly pipeline every idempotent registry step runs through: retries on 5xx (but 501/505), 429, 408,
/// dropped or reset connections and stalls, with exponential backoff and the registry's Retry-After.
/// </summary>
internal static class RegistryRetry
{
    /// <summary>What the attempt was doing (it moves on within an upload), for the retry log.</summary>
    public static readonly ResiliencePropertyKey<RegistryStep> Step = new("modwsgi.registry.step");

    public static bool IsTransient(HttpStatusCode status) => status switch
    {
        HttpStatusCode.NotImplemented or HttpStatusCode.HttpVersionNotSupported => false,
        HttpStatusCode.TooManyRequests or HttpStatusCode.RequestTimeout => true,
        _ => (int)status >= 500,
    };

    /// <summary>Failures a new attempt may cure: not a name that does not resolve, a TLS mismatch or a proxy refusal.</summary>
    public static bool IsTransient(HttpRequestException exception) => exception.HttpRequestError is HttpRequestError.Unknown
        or HttpRequestError.ConnectionError or HttpRequestError.ResponseEnded or HttpRequestError.HttpProtocolError
        or HttpRequestError.InvalidResponse;

    public static ResiliencePipeline<HttpResponseMessage> Pipeline(RegistryRetryOptions options, ILogger logger)
    {
        var builder = new ResiliencePipelineBuilder<HttpResponseMessage> { TimeProvider = options.TimeProvider };
        if (options.MaxRetries <= 0)
            return builder.Build();
        return builder.AddRetry(new RetryStrategyOptions<HttpResponseMessage>
        {
            MaxRetryAttempts = options.MaxRetries,
            BackoffType = DelayBackoffType.Exponential,
            UseJitter = true,
            Delay = options.BaseDelay,
            MaxDelay = options.MaxDelay,
            ShouldHandle = args => ValueTask.FromResult(args.Outcome switch
            {
                { Exception: HttpRequestException e } => IsTransient(e),
                { Exception: RegistryRequestTimedOutException } => true,
                { Result: { } response } => IsTransient(response.StatusCode),
                _ => false,
            }),
            DelayGenerator = args => ValueTask.FromResult(RetryAfter(args.Outcome.Result, options)),
            OnRetry = args =>
            {
                var step = args.Context.Properties.TryGetValue(Step, out var current) ? current.Name : "sending a request";
                var why = args.Outcome.Exception is { } ex ? ex.Message : $"{(int)args.Outcome.Result!.StatusCode} {args.Outcome.Result.ReasonPhrase}";
                // Information, not a warning: a retry that succeeds must not fail a build run with -warnaserror.
                logger.LogInformation("The registry failed while {Step} ({Why}); retrying in {Delay:0.0} s (retry {Attempt} of {Retries})",
                    step, why, args.RetryDelay.TotalSeconds, args.AttemptNumber + 1, options.MaxRetries);
                return ValueTask.CompletedTask;
            },
        }).Build();
    }

    /// <summary>The wait a 429 or 503 asks for (seconds or a date), capped; null: the backoff decides.</summary>
    internal static TimeSpan? RetryAfter(HttpResponseMessage? response, RegistryRetryOptions options)
    {
        if (response?.Headers.RetryAfter is not { } retryAfter)
            return null;
        var wait = retryAfter.Delta ?? (retryAfter.Date is { } date ? date - options.TimeProvider.GetUtcNow() : (TimeSpan?)null);
        if (wait is not { } value)
            return null;
        return value < TimeSpan.Zero ? TimeSpan.Zero : value > options.MaxRetryAfter ? options.MaxRetryAfter : value;
    }
}

/// <summary>The step an attempt is in (e.g. "uploading layer sha256:…"), named in retry logs and errors.</summary>
internal sealed class RegistryStep(string name = "")
{
    public string Name { get; set; } = name;
}
