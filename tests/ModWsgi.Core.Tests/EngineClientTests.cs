using System.Buffers.Binary;
using System.Text;
using ModWsgi.Core.Diagnostics;
using Microsoft.AspNetCore.Http;
using ModWsgi.Core.Engine;

namespace ModWsgi.Core.Tests;

public sealed class EngineClientTests : IDisposable
{
    private readonly string _missingDir = Path.Combine(Path.GetTempPath(), "modwsgi-engine-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_missingDir))
            Directory.Delete(_missingDir, recursive: true);
    }

    // ---- EngineEndpoint ---------------------------------------------------------------------------------------

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    public void Parse_WithoutAHost_IsTheDefaultSocket(string? host)
    {
        var endpoint = EngineEndpoint.Parse(host);

        Assert.Equal("/var/run/docker.sock", endpoint.SocketPath);
        Assert.Equal(EngineEndpoint.DefaultSocket, endpoint.SocketPath);
        Assert.Equal("unix:///var/run/docker.sock", endpoint.Display);
        Assert.Null(endpoint.TcpBase);
    }

    [Fact]
    public void Parse_UnixSocket()
    {
        var endpoint = EngineEndpoint.Parse("unix:///x.sock");

        Assert.Equal("/x.sock", endpoint.SocketPath);
        Assert.Equal("unix:///x.sock", endpoint.Display);
        Assert.Null(endpoint.TcpBase);
    }

    [Fact]
    public void Parse_Tcp()
    {
        var endpoint = EngineEndpoint.Parse("tcp://127.0.0.1:2375");

        Assert.Null(endpoint.SocketPath);
        Assert.Equal(new Uri("http://127.0.0.1:2375/"), endpoint.TcpBase);
        Assert.Equal("127.0.0.1", endpoint.TcpBase!.Host);
        Assert.Equal(2375, endpoint.TcpBase.Port);
        Assert.Equal("tcp://127.0.0.1:2375", endpoint.Display);
    }

    [Theory]
    [InlineData("npipe:////./pipe/docker_engine")]
    [InlineData("/var/run/docker.sock")]
    public void Parse_UnsupportedScheme_IsMODWSGI3004(string host)
    {
        var ex = Assert.Throws<ModWsgiException>(() => EngineEndpoint.Parse(host));

        Assert.Equal(3004, ex.Code.Number);
        Assert.Equal("MODWSGI3004", ex.Id);
        Assert.Contains(host, ex.Message);
        Assert.Contains("unix://", ex.Message);
        Assert.Contains("tcp://", ex.Message);
    }

    // ---- DockerEngineClient without an engine -----------------------------------------------------------------

    [Fact]
    public async Task FirstRequest_WhenTheSocketDoesNotExist_IsMODWSGI3001NamingTheSocketAndHowToStartAnEngine()
    {
        var socket = Path.Combine(_missingDir, "docker.sock");
        using var client = new DockerEngineClient(EngineEndpoint.Parse("unix://" + socket));

        var ex = await Assert.ThrowsAsync<ModWsgiException>(() => client.InspectImageAsync("modwsgi/base:bookworm", CancellationToken.None));

        Assert.Equal(3001, ex.Code.Number);
        Assert.Equal(DiagnosticCodes.EngineUnreachable, ex.Code);
        Assert.Contains("unix://" + socket, ex.Message);
        Assert.Contains("dockerd", ex.Message);
        Assert.Contains("DOCKER_HOST", ex.Message);
        Assert.DoesNotContain("   at ", ex.Message);
        Assert.DoesNotContain("Exception", ex.Message);
        Assert.DoesNotContain("\n", ex.Message);
        Assert.StartsWith("MODWSGI3001: ", ex.ToString());
    }

    [Fact]
    public async Task FirstRequest_WhenNothingListensOnTheTcpPort_IsMODWSGI3001()
    {
        // Port 1 on loopback: nothing listens there, the connection is refused at once.
        using var client = new DockerEngineClient(EngineEndpoint.Parse("tcp://127.0.0.1:1"));

        var ex = await Assert.ThrowsAsync<ModWsgiException>(() => client.InspectImageAsync("modwsgi/base:bookworm", CancellationToken.None));

        Assert.Equal(3001, ex.Code.Number);
        Assert.Contains("tcp://127.0.0.1:1", ex.Message);
        Assert.DoesNotContain("   at ", ex.Message);
    }

    // ---- Engine API version negotiation ----------------------------------------------------------------------

    [Theory]
    [InlineData("1.41", "1.12", "1.41")] // Docker 20.10, Podman 4
    [InlineData("1.45", "1.24", "1.45")] // Docker 26: its newest, below ours
    [InlineData("1.52", "1.24", "1.47")] // an engine newer than us: our newest
    [InlineData("1.52", "1.44", "1.47")] // Docker 29's raised minimum: still ours at ≥ 1.44
    [InlineData("1.45", "1.44", "1.45")] // Docker 26 started with DOCKER_MIN_API_VERSION=1.44
    [InlineData("1.44", null, "1.44")]   // an engine that gives no minimum
    public void Choose_IsTheHighestVersionBothSidesSpeak(string engineNewest, string? engineMinimum, string expected)
    {
        var chosen = EngineApiVersion.Choose(Version.Parse(engineNewest), engineMinimum is null ? null : Version.Parse(engineMinimum), "unix:///e.sock");

        Assert.Equal(Version.Parse(expected), chosen);
        Assert.InRange(chosen, EngineApiVersion.Oldest, EngineApiVersion.Newest);
    }

    [Fact]
    public void Choose_AnEngineOlderThanOurOldest_IsMODWSGI3007NamingBothRanges()
    {
        var ex = Assert.Throws<ModWsgiException>(() => EngineApiVersion.Choose(new Version(1, 40), new Version(1, 12), "unix:///old.sock"));

        Assert.Equal(DiagnosticCodes.EngineApiVersionUnsupported, ex.Code);
        Assert.Equal("MODWSGI3007", ex.Id);
        Assert.Contains("unix:///old.sock", ex.Message);
        Assert.Contains("1.12 to 1.40", ex.Message);
        Assert.Contains($"{EngineApiVersion.Oldest} to {EngineApiVersion.Newest}", ex.Message);
        Assert.Contains("Upgrade the engine", ex.Message);
    }

    [Fact]
    public void Choose_AnEngineWhoseMinimumIsAboveOurNewest_IsMODWSGI3007SayingToUpgradeModWsgi()
    {
        var ex = Assert.Throws<ModWsgiException>(() => EngineApiVersion.Choose(new Version(1, 60), new Version(1, 50), "tcp://h:2375"));

        Assert.Equal(DiagnosticCodes.EngineApiVersionUnsupported, ex.Code);
        Assert.Contains("1.50 to 1.60", ex.Message);
        Assert.Contains("Upgrade ModWsgi.Sdk", ex.Message);
    }

    [Theory]
    [InlineData("1.45", 1, 45)]
    [InlineData(" 1.41 ", 1, 41)]
    public void ParseVersion_ReadsMajorDotMinor(string text, int major, int minor) =>
        Assert.Equal(new Version(major, minor), EngineApiVersion.Parse(text));

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("v1.45")]
    [InlineData("1.45.1")]
    public void ParseVersion_AnythingElse_IsNull(string? text) => Assert.Null(EngineApiVersion.Parse(text));

    [Fact]
    public async Task Client_AsksTheVersionOnce_OnTheFirstCall_AndSendsEveryCallAtTheChosenVersion()
    {
        await using var server = await FakeEngineServer.StartAsync(apiVersion: "1.45", minApiVersion: "1.24");
        using var client = new DockerEngineClient(server.Endpoint);
        Assert.Empty(server.Requests); // lazily: constructing the client asks nothing

        Assert.Null(await client.InspectImageAsync("modwsgi/base:bookworm", CancellationToken.None));
        Assert.Null(await client.InspectImageAsync("other:1", CancellationToken.None));
        await client.RemoveContainerAsync("c1", CancellationToken.None); // 404: already gone

        Assert.Equal(new Version(1, 45), await client.GetApiVersionAsync(CancellationToken.None));
        Assert.Equal(
        [
            "GET /version",
            "GET /v1.45/images/modwsgi%2Fbase%3Abookworm/json",
            "GET /v1.45/images/other%3A1/json",
            "DELETE /v1.45/containers/c1?force=true&v=true",
        ], server.Requests);
    }

    [Fact]
    public async Task Client_OnAnEngineWithMinimum144_SpeaksAVersionAtLeast144()
    {
        await using var server = await FakeEngineServer.StartAsync(apiVersion: "1.45", minApiVersion: "1.44");
        using var client = new DockerEngineClient(server.Endpoint);

        await client.InspectImageAsync("x:1", CancellationToken.None);

        Assert.Contains("GET /v1.45/images/x%3A1/json", server.Requests);
        Assert.True(await client.GetApiVersionAsync(CancellationToken.None) >= new Version(1, 44));
    }

    [Fact]
    public async Task Client_OnAnEngineOlderThan141_FailsItsFirstCallWithMODWSGI3007_AndSendsNothingElse()
    {
        await using var server = await FakeEngineServer.StartAsync(apiVersion: "1.40", minApiVersion: "1.12");
        using var client = new DockerEngineClient(server.Endpoint);

        var ex = await Assert.ThrowsAsync<ModWsgiException>(() => client.InspectImageAsync("x:1", CancellationToken.None));

        Assert.Equal(DiagnosticCodes.EngineApiVersionUnsupported, ex.Code);
        Assert.Contains("1.12 to 1.40", ex.Message);
        Assert.Contains("1.41 to 1.47", ex.Message);
        Assert.Contains(server.Endpoint.Display, ex.Message);
        Assert.Equal(["GET /version"], server.Requests);
    }

    // ---- an endpoint that answers, but is not an engine -------------------------------------------------------

    [Theory]
    [InlineData(404, "text/html", "<html><body><h1>Not Found</h1>\n<p>The page you asked for is not here.</p></body></html>", "404 Not Found (text/html)")]
    [InlineData(200, "text/html", "<!DOCTYPE html><html><title>Welcome to nginx!</title></html>", "200 OK (text/html)")]
    [InlineData(200, "application/json", "{\"status\":\"ok\"}", "200 OK (application/json)")]
    [InlineData(401, "text/plain", "", "401 Unauthorized (text/plain)")]
    public async Task AnHttpServerThatIsNotAnEngine_IsMODWSGI3015NamingTheEndpointAndWhatToCheck_AndNothingElseIsSent(int status, string type, string body, string answered)
    {
        // apiVersion null: /version gets the handler's answer, as from a web server on the socket.
        await using var server = await FakeEngineServer.StartAsync(apiVersion: null);
        server.Handler = context =>
        {
            context.Response.StatusCode = status;
            context.Response.ContentType = type;
            return context.Response.WriteAsync(body);
        };
        using var client = new DockerEngineClient(server.Endpoint);

        var ex = await Assert.ThrowsAsync<ModWsgiException>(() => client.CreateContainerAsync(new ContainerSpec("modwsgi/base:bookworm", ["true"]), CancellationToken.None));

        Assert.Equal(DiagnosticCodes.NotAContainerEngine, ex.Code);
        Assert.StartsWith("MODWSGI3015: ", ex.ToString());
        Assert.Contains(server.Endpoint.Display, ex.Message);
        Assert.Contains("GET /version answered " + answered, ex.Message);
        Assert.Contains("DOCKER_HOST", ex.Message);
        Assert.Contains($"docker -H {server.Endpoint.Display} version", ex.Message);
        Assert.DoesNotContain("\n", ex.Message);
        Assert.DoesNotContain("   at ", ex.Message);
        // Nothing was created: the first call stopped at the version question.
        Assert.Equal(["GET /version"], server.Requests);
    }

    [Fact]
    public async Task AnHtmlPage_IsQuotedShortAndOnOneLine()
    {
        await using var server = await FakeEngineServer.StartAsync(apiVersion: null);
        server.Handler = context =>
        {
            context.Response.StatusCode = 404;
            context.Response.ContentType = "text/html";
            return context.Response.WriteAsync("<html>\n  <h1>Not Found</h1>\n" + new string('x', 500) + "</html>");
        };
        using var client = new DockerEngineClient(server.Endpoint);

        var ex = await Assert.ThrowsAsync<ModWsgiException>(() => client.InspectImageAsync("x:1", CancellationToken.None));

        Assert.Contains("\"<html> <h1>Not Found</h1> xxx", ex.Message);
        Assert.Contains("…\"", ex.Message);
        Assert.True(ex.Message.Length < 600, ex.Message);
    }

    [Fact]
    public async Task AnEnginesOwnErrorToVersion_StaysMODWSGI3003WithItsMessage()
    {
        await using var server = await FakeEngineServer.StartAsync(apiVersion: null);
        server.AnswerAll(500, "{\"message\":\"the engine is shutting down\"}");
        using var client = new DockerEngineClient(server.Endpoint);

        var ex = await Assert.ThrowsAsync<ModWsgiException>(() => client.InspectImageAsync("x:1", CancellationToken.None));

        Assert.Equal(DiagnosticCodes.EngineRequestFailed, ex.Code);
        Assert.Contains("500 the engine is shutting down", ex.Message);
    }

    [Fact]
    public async Task ATcpPortThatAnswersSomethingOtherThanHttp_IsMODWSGI3015()
    {
        // Like an sshd or a database on the port DOCKER_HOST names: it greets first, in its own protocol.
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        var serve = Task.Run(async () =>
        {
            using var socket = await listener.AcceptSocketAsync();
            await socket.SendAsync("SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n"u8.ToArray());
            await Task.Delay(500);
        });
        using var client = new DockerEngineClient(EngineEndpoint.Parse($"tcp://127.0.0.1:{port}"));

        var ex = await Assert.ThrowsAsync<ModWsgiException>(() => client.InspectImageAsync("x:1", CancellationToken.None));

        Assert.Equal(DiagnosticCodes.NotAContainerEngine, ex.Code);
        Assert.Contains($"tcp://127.0.0.1:{port}", ex.Message);
        Assert.Contains("not HTTP", ex.Message);
        await serve;
    }

    // ---- container removal -------------------------------------------------------------------------------------

    [Theory]
    [InlineData(404, "{\"message\":\"No such container: c1\"}")]
    [InlineData(409, "{\"message\":\"removal of container c1 is already in progress\"}")]
    [InlineData(204, "")]
    public async Task RemoveContainer_GoneOrAlreadyBeingRemoved_IsDone(int status, string body)
    {
        await using var server = await FakeEngineServer.StartAsync();
        server.AnswerAll(status, body);
        using var client = new DockerEngineClient(server.Endpoint);

        await client.RemoveContainerAsync("c1", CancellationToken.None);

        Assert.Contains("DELETE /v1.41/containers/c1?force=true&v=true", server.Requests);
    }

    [Fact]
    public async Task RemoveContainer_AnyOtherConflict_IsMODWSGI3003WithTheEnginesMessage()
    {
        await using var server = await FakeEngineServer.StartAsync();
        server.AnswerAll(409, "{\"message\":\"You cannot remove a paused container c1\"}");
        using var client = new DockerEngineClient(server.Endpoint);

        var ex = await Assert.ThrowsAsync<ModWsgiException>(() => client.RemoveContainerAsync("c1", CancellationToken.None));

        Assert.Equal(DiagnosticCodes.EngineRequestFailed, ex.Code);
        Assert.Contains("409 You cannot remove a paused container c1", ex.Message);
    }

    // ---- timeouts ------------------------------------------------------------------------------------------------

    private static readonly EngineClientOptions Short = new() { RequestTimeout = TimeSpan.FromMilliseconds(300), RemovalTimeout = TimeSpan.FromMilliseconds(300) };

    /// <summary>A unix socket that accepts connections and reads what comes, but never writes a byte.</summary>
    private sealed class SilentSocket : IDisposable
    {
        private readonly System.Net.Sockets.Socket _listener = new(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
        private readonly List<System.Net.Sockets.Socket> _accepted = [];

        public SilentSocket(string path)
        {
            Path = path;
            _listener.Bind(new System.Net.Sockets.UnixDomainSocketEndPoint(path));
            _listener.Listen(8);
            _ = Task.Run(async () =>
            {
                while (true)
                {
                    System.Net.Sockets.Socket connection;
                    try
                    {
                        connection = await _listener.AcceptAsync();
                    }
                    catch (Exception)
                    {
                        return; // disposed
                    }
                    lock (_accepted)
                        _accepted.Add(connection);
                }
            });
        }

        public string Path { get; }

        public int Accepted { get { lock (_accepted) return _accepted.Count; } }

        public void Dispose()
        {
            _listener.Dispose();
            lock (_accepted)
                _accepted.ForEach(c => c.Dispose());
            File.Delete(Path);
        }
    }

    [Fact]
    public async Task AnEngineThatAcceptsButNeverAnswers_FailsTheFirstCallWithinTheRequestTimeout_AsMODWSGI3008()
    {
        Directory.CreateDirectory(_missingDir);
        using var silent = new SilentSocket(Path.Combine(_missingDir, "silent.sock"));
        using var client = new DockerEngineClient(EngineEndpoint.Parse("unix://" + silent.Path), Short);
        var clock = System.Diagnostics.Stopwatch.StartNew();

        var ex = await Assert.ThrowsAsync<ModWsgiException>(() => client.InspectImageAsync("modwsgi/base:bookworm", CancellationToken.None));

        Assert.InRange(clock.Elapsed, TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(10));
        Assert.Equal(DiagnosticCodes.EngineTimedOut, ex.Code);
        Assert.Equal("MODWSGI3008", ex.Id);
        Assert.Contains("unix://" + silent.Path, ex.Message);
        Assert.Contains("GET /version within 300 ms", ex.Message);
        Assert.Equal(1, silent.Accepted);
    }

    [Fact]
    public async Task AHungCall_TimesOutAsMODWSGI3008NamingIt_AndTheCallersCancellationStaysACancellation()
    {
        await using var server = await FakeEngineServer.StartAsync();
        server.Handler = context => Task.Delay(Timeout.Infinite, context.RequestAborted);
        using var client = new DockerEngineClient(server.Endpoint, Short);

        var ex = await Assert.ThrowsAsync<ModWsgiException>(() => client.InspectImageAsync("site:1", CancellationToken.None));
        Assert.Equal(DiagnosticCodes.EngineTimedOut, ex.Code);
        Assert.Contains("GET /v1.41/images/site%3A1/json within 300 ms", ex.Message);

        using var patient = new DockerEngineClient(server.Endpoint, new EngineClientOptions { RequestTimeout = TimeSpan.FromMinutes(5) });
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => patient.InspectImageAsync("site:1", cancel.Token));
    }

    [Fact]
    public async Task RemovingAContainer_OnAHungEngine_IsBoundedByTheRemovalTimeout_NotTheRequestTimeout()
    {
        await using var server = await FakeEngineServer.StartAsync();
        server.Handler = context => Task.Delay(Timeout.Infinite, context.RequestAborted);
        using var client = new DockerEngineClient(server.Endpoint, new EngineClientOptions { RequestTimeout = TimeSpan.FromMinutes(5), RemovalTimeout = TimeSpan.FromMilliseconds(300) });
        var clock = System.Diagnostics.Stopwatch.StartNew();

        // What a cancelled build's cleanup does: no token of its own, so only the client bounds it.
        var ex = await Assert.ThrowsAsync<ModWsgiException>(() => client.RemoveContainerAsync("c1", CancellationToken.None));

        Assert.InRange(clock.Elapsed, TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(10));
        Assert.Equal(DiagnosticCodes.EngineTimedOut, ex.Code);
        Assert.Contains("DELETE /v1.41/containers/c1?force=true&v=true within 300 ms", ex.Message);
    }

    [Fact]
    public async Task AStream_OutlivesTheRequestTimeout()
    {
        await using var server = await FakeEngineServer.StartAsync();
        server.Handler = async context =>
        {
            // The load streams for longer than a short question may take.
            await Task.Delay(TimeSpan.FromMilliseconds(900), context.RequestAborted);
            await context.Response.WriteAsync("{\"stream\":\"Loaded image: site:1\"}\n");
        };
        using var client = new DockerEngineClient(server.Endpoint, Short);

        await client.LoadImageAsync(new MemoryStream(new byte[1024]), CancellationToken.None);

        Assert.Contains("POST /v1.41/images/load?quiet=1", server.Requests);
    }

    // ---- MultiplexedStreamReader ------------------------------------------------------------------------------

    private static byte[] Frame(byte stream, byte[] payload)
    {
        var frame = new byte[8 + payload.Length];
        frame[0] = stream;
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(4), (uint)payload.Length);
        payload.CopyTo(frame, 8);
        return frame;
    }

    private static byte[] Frame(byte stream, string text) => Frame(stream, Encoding.UTF8.GetBytes(text));

    private static MemoryStream Frames(params byte[][] frames) => new(frames.SelectMany(f => f).ToArray());

    private static async Task<List<OutputLine>> ReadLines(Stream stream)
    {
        var lines = new List<OutputLine>();
        await MultiplexedStreamReader.ReadLinesAsync(stream, lines.Add, CancellationToken.None);
        return lines;
    }

    [Fact]
    public async Task ReadLines_JoinsFramesIntoLinesPerStream_AndFlushesTheLastLine()
    {
        var lines = await ReadLines(Frames(
            Frame(1, "hel"),
            Frame(1, "lo\nwor"),
            Frame(2, "oops\n"),
            Frame(1, "ld")));

        Assert.Equal(
        [
            new OutputLine(OutputStream.Stdout, "hello"),
            new OutputLine(OutputStream.Stderr, "oops"),
            new OutputLine(OutputStream.Stdout, "world"),
        ], lines);
    }

    [Fact]
    public async Task ReadLines_DecodesUtf8SplitAcrossFrames_AndDropsCarriageReturns()
    {
        var euro = Encoding.UTF8.GetBytes("€"); // 3 bytes
        var lines = await ReadLines(Frames(
            Frame(1, [.. Encoding.UTF8.GetBytes("price: "), euro[0]]),
            Frame(2, "warn\r\n"),
            Frame(1, [euro[1], euro[2], .. Encoding.UTF8.GetBytes("5\r\n\nend\n")])));

        Assert.Equal(
        [
            new OutputLine(OutputStream.Stderr, "warn"),
            new OutputLine(OutputStream.Stdout, "price: €5"),
            new OutputLine(OutputStream.Stdout, ""),
            new OutputLine(OutputStream.Stdout, "end"),
        ], lines);
    }

    [Fact]
    public async Task ReadLines_ReadsFramesTheStreamHandsOutInPieces()
    {
        var bytes = Frames(Frame(1, "first line\nsecond"), Frame(2, "err\n"), Frame(1, " line\n")).ToArray();

        var lines = await ReadLines(new OneByteStream(bytes));

        Assert.Equal(
        [
            new OutputLine(OutputStream.Stdout, "first line"),
            new OutputLine(OutputStream.Stderr, "err"),
            new OutputLine(OutputStream.Stdout, "second line"),
        ], lines);
    }

    [Fact]
    public async Task Copy_CopiesStdoutBytesExactly_AndReportsStderrLines()
    {
        byte[] binary = [0x00, 0xFF, 0x0A, 0x1F, 0x8B, 0x00, 0x0D, 0xFE, 0x80];
        var big = Enumerable.Range(0, 100_000).Select(i => (byte)(i * 31 % 256)).ToArray();
        var stdout = new MemoryStream();
        var stderr = new List<string>();

        await MultiplexedStreamReader.CopyAsync(Frames(
            Frame(1, binary),
            Frame(2, "tar: warning one\n"),
            Frame(1, big),
            Frame(2, "tar: warning two\r\ntar: last"),
            Frame(1, [0xFF, 0x00])), stdout, stderr.Add, CancellationToken.None);

        Assert.Equal([.. binary, .. big, 0xFF, 0x00], stdout.ToArray());
        Assert.Equal(["tar: warning one", "tar: warning two", "tar: last"], stderr);
    }

    [Fact]
    public async Task Copy_WithoutStderr_ReportsNothing()
    {
        var stdout = new MemoryStream();
        var stderr = new List<string>();

        await MultiplexedStreamReader.CopyAsync(Frames(Frame(1, [1, 2, 3])), stdout, stderr.Add, CancellationToken.None);

        Assert.Equal([1, 2, 3], stdout.ToArray());
        Assert.Empty(stderr);
    }

    /// <summary>A stream that returns one byte per read, like a slow socket.</summary>
    private sealed class OneByteStream(byte[] data) : Stream
    {
        private int _position;

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            if (_position == data.Length || buffer.Length == 0)
                return 0;
            buffer[0] = data[_position++];
            return 1;
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
            => ValueTask.FromResult(Read(buffer.Span));

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
