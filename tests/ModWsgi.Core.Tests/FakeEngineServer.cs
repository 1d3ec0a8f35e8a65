using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using ModWsgi.Core.Engine;

namespace ModWsgi.Core.Tests;

/// <summary>
/// The Engine API's HTTP side on a unix socket in a temp folder (Kestrel): every request is recorded as
/// "METHOD /path?query" (as sent) and answered by <see cref="Handler"/>, which may also never answer (await the token).
/// </summary>
internal sealed class FakeEngineServer : IAsyncDisposable
{
    private readonly string _folder;
    private readonly WebApplication _app;

    private FakeEngineServer(string folder, WebApplication app)
    {
        _folder = folder;
        _app = app;
    }

    public string SocketPath => Path.Combine(_folder, "engine.sock");

    public EngineEndpoint Endpoint => EngineEndpoint.Parse("unix://" + SocketPath);

    public ConcurrentQueue<string> Requests { get; } = new();

    /// <summary>The answer to each request; the default answers 404 to everything.</summary>
    public Func<HttpContext, Task> Handler { get; set; } = context =>
    {
        context.Response.StatusCode = 404;
        return context.Response.WriteAsync("{\"message\":\"page not found\"}");
    };

    /// <summary>An engine that speaks <paramref name="apiVersion"/> down to <paramref name="minApiVersion"/> and 404s the rest.</summary>
    public static async Task<FakeEngineServer> StartAsync(string? apiVersion = "1.41", string? minApiVersion = "1.12")
    {
        var folder = Path.Combine(Path.GetTempPath(), "modwsgi-fake-engine-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(folder);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.ListenUnixSocket(Path.Combine(folder, "engine.sock")));
        var app = builder.Build();
        var server = new FakeEngineServer(folder, app);
        app.Run(async context =>
        {
            // The request target as sent, escapes included.
            server.Requests.Enqueue($"{context.Request.Method} {context.Features.Get<IHttpRequestFeature>()!.RawTarget}");
            if (context.Request.Path == "/version" && apiVersion is not null)
            {
                context.Response.Headers["Api-Version"] = apiVersion;
                context.Response.ContentType = "application/json";
                var min = minApiVersion is null ? "" : $",\"MinAPIVersion\":\"{minApiVersion}\"";
                await context.Response.WriteAsync($"{{\"Version\":\"fake\",\"ApiVersion\":\"{apiVersion}\"{min}}}");
                return;
            }
            await server.Handler(context);
        });
        await app.StartAsync();
        return server;
    }

    /// <summary>Answers every request other than /version with <paramref name="status"/> and the JSON <paramref name="body"/>.</summary>
    public void AnswerAll(int status, string body) => Handler = context =>
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync(body);
    };

    public async ValueTask DisposeAsync()
    {
        using (var stop = new CancellationTokenSource(TimeSpan.FromSeconds(2)))
            await _app.StopAsync(stop.Token);
        await _app.DisposeAsync();
        Directory.Delete(_folder, recursive: true);
    }
}
