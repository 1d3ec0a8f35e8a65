using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ModWsgi.Core.Diagnostics;

namespace ModWsgi.Core.Engine;

/// <summary>
/// The docker CLI's contexts, read from its config folder as the CLI writes them: the current one is DOCKER_CONTEXT,
/// else config.json's <c>currentContext</c>; its endpoint is in <c>contexts/meta/SHA256(NAME)/meta.json</c>
/// (<c>Endpoints.docker.Host</c>, <c>SkipTLSVerify</c>), its TLS files in <c>contexts/tls/SHA256(NAME)/docker/</c>.
/// </summary>
public static class DockerContexts
{
    public const string DefaultContext = "default";

    /// <summary>The current context's endpoint; null for the <c>default</c> context (the default socket).</summary>
    public static EngineEndpoint? Resolve(BuildEnvironment environment, string sshProgram)
    {
        var configDirectory = environment.DockerConfigDirectory;
        var (name, origin) = environment.DockerContext is { } fromVariable
            ? (fromVariable, "DOCKER_CONTEXT")
            : (CurrentContext(configDirectory), $"currentContext in {Path.Combine(configDirectory, "config.json")}");
        if (name is null || name == DefaultContext)
            return null;
        return Read(name, origin, configDirectory, sshProgram);
    }

    /// <summary>The folder name the docker CLI stores a context under: the hex SHA-256 of its name.</summary>
    public static string DirectoryName(string context) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(context)));

    private static string? CurrentContext(string configDirectory)
    {
        var configPath = Path.Combine(configDirectory, "config.json");
        if (!File.Exists(configPath))
            return null;
        try
        {
            return JsonNode.Parse(File.ReadAllText(configPath))?["currentContext"]?.GetValue<string>() is { Length: > 0 } current ? current : null;
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or IOException or UnauthorizedAccessException)
        {
            throw new ModWsgiException(DiagnosticCodes.DockerConfigInvalid,
                $"{configPath} cannot be read for its currentContext ({ex.Message.TrimEnd('.')}): fix or remove it.", ex);
        }
    }

    private static EngineEndpoint Read(string name, string origin, string configDirectory, string sshProgram)
    {
        var id = DirectoryName(name);
        var metaPath = Path.Combine(configDirectory, "contexts", "meta", id, "meta.json");
        if (!File.Exists(metaPath))
            throw new ModWsgiException(DiagnosticCodes.DockerContextInvalid,
                $"The docker context '{name}' ({origin}) does not exist: there is no {metaPath}. " +
                "List the contexts with 'docker context ls', create it with 'docker context create', or use 'default'.");
        string? host;
        bool skipVerify;
        try
        {
            var docker = JsonNode.Parse(File.ReadAllText(metaPath))?["Endpoints"]?["docker"];
            host = docker?["Host"]?.GetValue<string>();
            skipVerify = docker?["SkipTLSVerify"]?.GetValue<bool>() ?? false;
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or IOException or UnauthorizedAccessException)
        {
            throw new ModWsgiException(DiagnosticCodes.DockerContextInvalid,
                $"The docker context '{name}' ({origin}) cannot be read from {metaPath} ({ex.Message.TrimEnd('.')}): recreate it with 'docker context create'.", ex);
        }
        if (string.IsNullOrWhiteSpace(host))
            throw new ModWsgiException(DiagnosticCodes.DockerContextInvalid,
                $"The docker context '{name}' ({origin}) has no docker endpoint host in {metaPath}: recreate it with 'docker context create {name} --docker host=...'.");

        // TLS when the context holds TLS material, or asks to skip verification (TLS without checking), as the CLI does.
        var tlsDirectory = Path.Combine(configDirectory, "contexts", "tls", id, "docker");
        var hasMaterial = new[] { "ca.pem", "cert.pem", "key.pem" }.Any(f => File.Exists(Path.Combine(tlsDirectory, f)));
        var tls = hasMaterial || skipVerify ? EngineTls.FromDirectory(!skipVerify, tlsDirectory, $"docker context '{name}'") : null;
        try
        {
            return EngineEndpoint.Parse(host, tls, sshProgram) with { Display = $"{host} (docker context '{name}')" };
        }
        catch (ModWsgiException ex) when (ex.Code == DiagnosticCodes.InvalidEngineEndpoint)
        {
            throw new ModWsgiException(DiagnosticCodes.DockerContextInvalid,
                $"The docker context '{name}' ({origin}) names the host '{host}', which is not supported: {ex.Message}", ex);
        }
    }
}
