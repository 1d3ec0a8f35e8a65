using System.ComponentModel;
using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using ModWsgi.Core.Diagnostics;

namespace ModWsgi.Core.Engine;

/// <summary>
/// How the Engine API client reaches its endpoint: the connection for a unix socket, TCP, TLS or ssh, made in the
/// handler's connect callback (TLS too, so its failures become coded errors that say what to check), and a
/// handler around it that turns transport failures into those errors.
/// </summary>
internal static class EngineTransport
{
    /// <summary>The requests' base address: the connection is made by the callback, so only TCP's host (for Host:) matters.</summary>
    public static Uri BaseAddress(EngineEndpoint endpoint) =>
        endpoint.TcpBase is { } tcp ? new Uri($"http://{tcp.Host}:{tcp.Port}/") : new Uri("http://localhost/");

    /// <summary>Makes <paramref name="sockets"/> (the client's, with its pooling and timeouts) connect to <paramref name="endpoint"/>.</summary>
    public static HttpMessageHandler CreateHandler(EngineEndpoint endpoint, SocketsHttpHandler sockets)
    {
        if (endpoint.SocketPath is { } socketPath)
            sockets.ConnectCallback = (_, token) => ConnectUnixAsync(socketPath, token);
        else if (endpoint.Ssh is { } ssh)
            sockets.ConnectCallback = (_, token) => ValueTask.FromResult(SshProcessStream.Start(endpoint, ssh));
        else if (endpoint.Tls is { } tls)
        {
            var material = new Lazy<TlsMaterial>(() => TlsMaterial.Load(endpoint, tls));
            sockets.ConnectCallback = (_, token) => ConnectTlsAsync(endpoint, tls, material.Value, token);
        }
        return new TransportErrorHandler(endpoint, sockets);
    }

    private static async ValueTask<Stream> ConnectUnixAsync(string socketPath, CancellationToken token)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), token).ConfigureAwait(false);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private static async ValueTask<Stream> ConnectTlsAsync(EngineEndpoint endpoint, EngineTls tls, TlsMaterial material, CancellationToken token)
    {
        var tcp = endpoint.TcpBase!;
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(tcp.IdnHost, tcp.Port, token).ConfigureAwait(false);
        }
        catch
        {
            socket.Dispose();
            throw; // unreachable: the client's MODWSGI3001
        }
        var ssl = new SslStream(new NetworkStream(socket, ownsSocket: true));
        string? problem = null;
        var options = new SslClientAuthenticationOptions
        {
            TargetHost = tcp.IdnHost,
            CertificateChainPolicy = material.ChainPolicy,
            RemoteCertificateValidationCallback = (_, _, chain, errors) =>
            {
                if (!tls.Verify || errors == SslPolicyErrors.None)
                    return true;
                problem = DescribeVerificationFailure(errors, chain, tcp.Host);
                return false;
            },
        };
        if (material.ClientCertificate is { } client)
        {
            options.ClientCertificates = [client];
            options.LocalCertificateSelectionCallback = (_, _, _, _, _) => client;
        }
        try
        {
            await ssl.AuthenticateAsClientAsync(options, token).ConfigureAwait(false);
            return ssl;
        }
        catch (Exception ex) when (ex is AuthenticationException or IOException)
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
            if (problem is not null)
            {
                var check = new List<string>();
                if (problem.Contains("trusted CA", StringComparison.Ordinal))
                    check.Add($"that {tls.CaFile ?? "the system's trust store (there is no ca.pem in " + tls.CertDirectory + ")"} holds the CA that signed the engine's certificate");
                if (problem.Contains("does not name", StringComparison.Ordinal))
                    check.Add($"that you reach the engine by a name or address its certificate's subjectAltName lists (not {tcp.Host}), or reissue the certificate for {tcp.Host}");
                throw new ModWsgiException(DiagnosticCodes.EngineTlsFailed,
                    $"The engine at {endpoint.Display} is not trusted: its certificate {problem}. Check {string.Join(", and ", check.DefaultIfEmpty("its certificate"))} " +
                    $"(certificates from {tls.Origin}).", ex);
            }
            throw new ModWsgiException(DiagnosticCodes.EngineTlsFailed,
                $"The TLS handshake with the engine at {endpoint.Display} failed ({Innermost(ex)}). If that engine does not use TLS, " +
                $"unset DOCKER_TLS_VERIFY and DOCKER_TLS; else check its certificates and yours ({tls.Origin}).", ex);
        }
    }

    private static string DescribeVerificationFailure(SslPolicyErrors errors, X509Chain? chain, string host)
    {
        var parts = new List<string>();
        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable))
            parts.Add("was not sent");
        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch))
            parts.Add($"does not name {host}");
        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateChainErrors))
        {
            var status = chain?.ChainStatus.Select(s => s.StatusInformation.Trim()).Where(s => s.Length > 0).Distinct().ToArray() ?? [];
            parts.Add("is not signed by a trusted CA" + (status.Length > 0 ? $" ({string.Join("; ", status)})" : ""));
        }
        return string.Join(" and ", parts);
    }

    internal static string Innermost(Exception ex)
    {
        while (ex.InnerException is { } inner)
            ex = inner;
        return ex.Message.TrimEnd('.');
    }

    /// <summary>The certificates a TLS endpoint needs, read once at the first connection.</summary>
    private sealed record TlsMaterial(X509Certificate2? ClientCertificate, X509ChainPolicy? ChainPolicy)
    {
        public static TlsMaterial Load(EngineEndpoint endpoint, EngineTls tls)
        {
            if ((tls.CertFile is null) != (tls.KeyFile is null))
                throw new ModWsgiException(DiagnosticCodes.EngineTlsFilesInvalid,
                    $"{tls.CertDirectory} has {(tls.CertFile is null ? "key.pem but no cert.pem" : "cert.pem but no key.pem")} ({tls.Origin}): " +
                    $"the client certificate for {endpoint.Display} needs both.");
            X509Certificate2? client = null;
            if (tls.CertFile is not null)
            {
                try
                {
                    client = X509Certificate2.CreateFromPemFile(tls.CertFile, tls.KeyFile);
                }
                catch (CryptographicException ex)
                {
                    throw new ModWsgiException(DiagnosticCodes.EngineTlsFilesInvalid,
                        $"{tls.CertFile} and {tls.KeyFile} are not a readable certificate and its key ({ex.Message.TrimEnd('.')}): " +
                        "they must be PEM, the key unencrypted.", ex);
                }
            }
            X509ChainPolicy? policy = null;
            if (tls.Verify && tls.CaFile is not null)
            {
                var roots = new X509Certificate2Collection();
                try
                {
                    roots.ImportFromPemFile(tls.CaFile);
                }
                catch (CryptographicException ex)
                {
                    throw new ModWsgiException(DiagnosticCodes.EngineTlsFilesInvalid, $"{tls.CaFile} is not a PEM certificate ({ex.Message.TrimEnd('.')}).", ex);
                }
                if (roots.Count == 0)
                    throw new ModWsgiException(DiagnosticCodes.EngineTlsFilesInvalid, $"{tls.CaFile} holds no PEM certificate: put the engine's CA certificate there.");
                // Only the engine's CA is trusted, as the docker CLI does with ca.pem.
                policy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
                policy.CustomTrustStore.AddRange(roots);
            }
            return new TlsMaterial(client, policy);
        }
    }

    /// <summary>Turns what the transport throws, or a TLS engine's answer to plain HTTP, into coded errors.</summary>
    private sealed class TransportErrorHandler(EngineEndpoint endpoint, HttpMessageHandler inner) : DelegatingHandler(inner)
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            HttpResponseMessage response;
            try
            {
                response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
            }
            catch (HttpRequestException ex) when (Coded(ex) is { } coded)
            {
                throw coded;
            }
            catch (HttpRequestException ex) when (endpoint.Tls is { } tls && ex.HttpRequestError != HttpRequestError.ConnectionError)
            {
                // TLS 1.3: the engine checks the client certificate after the handshake and drops the connection.
                var client = tls.CertFile is null
                    ? $"no client certificate was given ({tls.CertDirectory} has no cert.pem and key.pem)"
                    : $"the client certificate was {tls.CertFile}";
                throw new ModWsgiException(DiagnosticCodes.EngineTlsFailed,
                    $"The engine at {endpoint.Display} closed the TLS connection ({Innermost(ex)}): it may not accept the client certificate; " +
                    $"{client}. An engine started with --tlsverify takes only client certificates signed by its --tlscacert.", ex);
            }
            catch (HttpRequestException ex) when (endpoint.Ssh is { } ssh)
            {
                // ssh ran, but what came back is not the Engine API (a login banner, a shell that refuses the command).
                throw new ModWsgiException(DiagnosticCodes.EngineSshFailed,
                    $"The engine at {endpoint.Display} did not answer over ssh ({Innermost(ex)}): check that " +
                    $"'ssh {string.Join(' ', SshProcessStream.Arguments(ssh))}' runs docker's dial-stdio for that user, printing nothing else.", ex);
            }
            if (response.StatusCode == HttpStatusCode.BadRequest && endpoint.TcpBase is not null && endpoint.Tls is null)
            {
                var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
                if (text.Contains("HTTP request to an HTTPS server", StringComparison.OrdinalIgnoreCase))
                {
                    response.Dispose();
                    throw new ModWsgiException(DiagnosticCodes.EngineExpectsTls,
                        $"The engine at {endpoint.Display} speaks TLS, but the request was plain HTTP: set DOCKER_TLS_VERIFY=1 and " +
                        "DOCKER_CERT_PATH to the folder with its ca.pem and your cert.pem and key.pem (as for the docker CLI).");
                }
            }
            return response;
        }

        private static ModWsgiException? Coded(Exception ex)
        {
            for (var e = ex.InnerException; e is not null; e = e.InnerException)
            {
                if (e is ModWsgiException coded)
                    return coded;
            }
            return null;
        }
    }
}

/// <summary>
/// One Engine API connection over ssh, as the docker CLI makes it: <c>ssh … HOST docker system dial-stdio</c>, the
/// HTTP bytes on its stdin and stdout. When ssh ends early (refused, no key, no docker there) its stderr is the error.
/// </summary>
internal sealed class SshProcessStream : Stream
{
    private readonly Process _process;
    private readonly EngineEndpoint _endpoint;
    private readonly StringBuilder _stderr = new();
    private readonly Stream _stdout;
    private readonly Stream _stdin;
    private bool _answered;

    private SshProcessStream(Process process, EngineEndpoint endpoint)
    {
        _process = process;
        _endpoint = endpoint;
        _stdout = process.StandardOutput.BaseStream;
        _stdin = process.StandardInput.BaseStream;
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null)
                return;
            lock (_stderr)
                _stderr.AppendLine(e.Data);
        };
        process.BeginErrorReadLine();
    }

    /// <summary>The ssh arguments, as the docker CLI's ssh helper passes them (plus BatchMode: a build cannot answer a prompt).</summary>
    internal static IReadOnlyList<string> Arguments(SshTarget ssh) =>
    [
        "-o", "ConnectTimeout=30", "-o", "BatchMode=yes", "-T",
        .. ssh.User is null ? Array.Empty<string>() : ["-l", ssh.User],
        .. ssh.Port is null ? Array.Empty<string>() : ["-p", ssh.Port.Value.ToString(System.Globalization.CultureInfo.InvariantCulture)],
        "--", ssh.Host, "docker", "system", "dial-stdio",
    ];

    public static Stream Start(EngineEndpoint endpoint, SshTarget ssh)
    {
        var info = new ProcessStartInfo(ssh.Program)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in Arguments(ssh))
            info.ArgumentList.Add(argument);
        try
        {
            return new SshProcessStream(Process.Start(info)!, endpoint);
        }
        catch (Win32Exception ex)
        {
            throw new ModWsgiException(DiagnosticCodes.EngineSshFailed,
                $"The engine at {endpoint.Display} is reached with ssh, which could not be started ({ex.Message}): install it (apt-get install openssh-client).", ex);
        }
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var read = await _stdout.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        if (read > 0)
            _answered = true;
        else if (buffer.Length > 0)
            await ThrowIfSshFailedAsync(null).ConfigureAwait(false);
        return read;
    }

    public override async Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => await ReadAsync(buffer.AsMemory(offset, count), cancellationToken).ConfigureAwait(false);

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count).GetAwaiter().GetResult();

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        try
        {
            await _stdin.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
            await _stdin.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (IOException ex)
        {
            await ThrowIfSshFailedAsync(ex).ConfigureAwait(false);
            throw;
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer, offset, count).GetAwaiter().GetResult();

    public override Task FlushAsync(CancellationToken cancellationToken) => _stdin.FlushAsync(cancellationToken);

    public override void Flush() => _stdin.Flush();

    /// <summary>
    /// At end of output or a broken pipe: when ssh has exited non-zero, or ended before any answer (a shell that
    /// refuses the command, a login banner), what it printed says why. The end of a connection that was answered is normal.
    /// </summary>
    private async Task ThrowIfSshFailedAsync(Exception? cause)
    {
        using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await _process.WaitForExitAsync(wait.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        if (_process.ExitCode == 0 && _answered)
            return;
        // It has exited: what is left of its output is there to read at once.
        var printed = _answered ? "" : await new StreamReader(_stdout).ReadToEndAsync(wait.Token).ConfigureAwait(false);
        string stderr;
        lock (_stderr)
            stderr = _stderr.ToString();
        var lines = (printed + "\n" + stderr).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var said = lines.Length == 0 ? "it printed nothing" : string.Join(" / ", lines.TakeLast(3));
        var ended = _process.ExitCode == 0 ? "ssh ended without an Engine API answer" : $"ssh exited {_process.ExitCode}";
        throw new ModWsgiException(DiagnosticCodes.EngineSshFailed,
            $"The ssh connection to the engine at {_endpoint.Display} failed ({ended}: {said}). Check that " +
            $"'ssh {string.Join(' ', Arguments(_endpoint.Ssh!))}' works without a prompt: the host answers on that port, your key is in " +
            "ssh-agent or ~/.ssh/config, the host key is known, and docker is installed there for that user.", cause);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            try
            {
                _stdin.Dispose();
                if (!_process.WaitForExit(TimeSpan.FromSeconds(2)))
                    _process.Kill(entireProcessTree: true);
            }
            catch (Exception ex) when (ex is IOException or InvalidOperationException or Win32Exception)
            {
                // already gone
            }
            _process.Dispose();
        }
        base.Dispose(disposing);
    }

    public override bool CanRead => true;
    public override bool CanWrite => true;
    public override bool CanSeek => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}
