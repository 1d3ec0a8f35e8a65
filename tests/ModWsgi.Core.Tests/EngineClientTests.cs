using System.Buffers.Binary;
using System.Text;
using ModWsgi.Core.Diagnostics;
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
