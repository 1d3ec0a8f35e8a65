using System.ComponentModel;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using ModWsgi.Core.Diagnostics;

namespace ModWsgi.Core.Registry;

/// <summary>Where registry credentials come from. The seam tests fake; <see cref="DockerConfigCredentialStore"/> is the real one.</summary>
public interface ICredentialStore
{
    /// <summary>The credential for <paramref name="registry"/> (host[:port]), or null to go anonymous.</summary>
    Task<RegistryCredential?> GetAsync(string registry, CancellationToken ct);
}

/// <summary>
/// A user name and password, or an identity (refresh) token when <see cref="Username"/> is <c>&lt;token&gt;</c>,
/// the convention of docker's config.json and credential helpers.
/// </summary>
public sealed record RegistryCredential(string Username, string Secret)
{
    public const string IdentityTokenUsername = "<token>";

    public bool IsIdentityToken => Username == IdentityTokenUsername;

    // A record prints every member by default; the secret must never reach a log or a message.
    public override string ToString() => $"RegistryCredential {{ Username = {Username} }}";
}

/// <summary>
/// Resolves credentials the way the .NET SDK and the docker CLI do: the SDK's environment variables first, then
/// docker's config.json (<c>credHelpers</c>, <c>auths</c>, <c>credsStore</c>). Environment, file and helper runner
/// are injectable so tests never touch the real home folder or keychain.
/// </summary>
public sealed class DockerConfigCredentialStore : ICredentialStore
{
    // The key `docker login` writes for Docker Hub, and what Hub's credential helpers are asked for.
    private const string DockerHubServer = "https://index.docker.io/v1/";
    private static readonly TimeSpan HelperTimeout = TimeSpan.FromSeconds(60);

    private readonly RegistryCredentialSources _sources;
    private readonly Func<string, string, (int Exit, string Stdout, string Stderr)> _runHelper;

    /// <param name="sources">The build environment's credential inputs.</param>
    /// <param name="runHelper">Runs <c>helperExe get</c> with the given stdin; null runs the real process, found on the sources' PATH.</param>
    public DockerConfigCredentialStore(RegistryCredentialSources sources, Func<string, string, (int Exit, string Stdout, string Stderr)>? runHelper = null)
    {
        _sources = sources;
        _runHelper = runHelper ?? ((executable, stdin) => RunHelperProcess(executable, stdin, sources.SearchPath));
    }

    /// <param name="getEnv">Reads a variable of the build's environment.</param>
    /// <param name="configPath">docker's config.json; null means <c>$DOCKER_CONFIG/config.json</c> or <c>~/.docker/config.json</c>.</param>
    /// <param name="runHelper">Runs <c>helperExe get</c> with the given stdin; null runs the real process.</param>
    public DockerConfigCredentialStore(Func<string, string?> getEnv, string? configPath = null,
        Func<string, string, (int Exit, string Stdout, string Stderr)>? runHelper = null)
        : this(Sources(getEnv, configPath), runHelper)
    {
    }

    private static RegistryCredentialSources Sources(Func<string, string?> getEnv, string? configPath)
    {
        var sources = RegistryCredentialSources.From(getEnv);
        return configPath is null ? sources : sources with { DockerConfigPath = configPath };
    }

    public string ConfigPath => _sources.DockerConfigPath;

    // A credential helper may block on a keychain: keep it off the caller's thread.
    public Task<RegistryCredential?> GetAsync(string registry, CancellationToken ct) =>
        Task.Run(() => _sources.FromVariables ?? FromConfigFile(registry), ct);

    private RegistryCredential? FromConfigFile(string registry)
    {
        if (!File.Exists(ConfigPath))
            return null;
        JsonElement root;
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllText(ConfigPath));
            root = document.RootElement.Clone();
        }
        catch (Exception ex) when (ex is JsonException or IOException or UnauthorizedAccessException)
        {
            throw new ModWsgiException(DiagnosticCodes.DockerConfigInvalid,
                $"{ConfigPath} cannot be read ({ex.Message}). Fix or remove it, or set DOTNET_CONTAINER_REGISTRY_UNAME and DOTNET_CONTAINER_REGISTRY_PWORD.", ex);
        }
        if (root.ValueKind != JsonValueKind.Object)
            throw new ModWsgiException(DiagnosticCodes.DockerConfigInvalid, $"{ConfigPath} is not a JSON object. Fix or remove it.");

        var host = HostKey(registry);
        if (Lookup(root, "credHelpers", host) is { ValueKind: JsonValueKind.String } helper && helper.GetString() is { Length: > 0 } helperName)
            return FromHelper(helperName, "credHelpers", registry);
        if (Lookup(root, "auths", host) is { ValueKind: JsonValueKind.Object } entry && FromAuthEntry(entry, registry) is { } credential)
            return credential;
        if (root.TryGetProperty("credsStore", out var store) && store.ValueKind == JsonValueKind.String && store.GetString() is { Length: > 0 } storeName)
            return FromHelper(storeName, "credsStore", registry);
        return null;
    }

    /// <summary>The entry of <c>root[section]</c> whose key names <paramref name="host"/> in any of docker's spellings.</summary>
    private static JsonElement? Lookup(JsonElement root, string section, string host)
    {
        if (!root.TryGetProperty(section, out var map) || map.ValueKind != JsonValueKind.Object)
            return null;
        foreach (var property in map.EnumerateObject())
        {
            if (HostKey(property.Name) == host)
                return property.Value;
        }
        return null;
    }

    /// <summary>"https://host:port/v1/", "http://host" and "host" all become "host:port"; Docker Hub's names become one.</summary>
    private static string HostKey(string name)
    {
        var key = name.Trim().ToLowerInvariant();
        foreach (var scheme in (string[])["https://", "http://"])
        {
            if (key.StartsWith(scheme, StringComparison.Ordinal))
                key = key[scheme.Length..];
        }
        var slash = key.IndexOf('/');
        if (slash >= 0)
            key = key[..slash];
        return key is "index.docker.io" or "registry-1.docker.io" or "registry.hub.docker.com" ? "docker.io" : key;
    }

    private RegistryCredential? FromAuthEntry(JsonElement entry, string registry)
    {
        if (StringProperty(entry, "identitytoken") is { Length: > 0 } token)
            return new RegistryCredential(RegistryCredential.IdentityTokenUsername, token);
        if (StringProperty(entry, "auth") is { Length: > 0 } auth)
        {
            string decoded;
            try
            {
                decoded = Encoding.UTF8.GetString(Convert.FromBase64String(auth));
            }
            catch (FormatException)
            {
                decoded = "";
            }
            var colon = decoded.IndexOf(':');
            if (colon <= 0)
                throw new ModWsgiException(DiagnosticCodes.DockerConfigInvalid,
                    $"The 'auth' value for {registry} in {ConfigPath} is not base64 of user:password. Run 'docker login {registry}' again.");
            return new RegistryCredential(decoded[..colon], decoded[(colon + 1)..]);
        }
        if (StringProperty(entry, "username") is { Length: > 0 } user && StringProperty(entry, "password") is { Length: > 0 } password)
            return new RegistryCredential(user, password);
        // Docker Desktop leaves empty entries here and keeps the secret in credsStore.
        return null;
    }

    private static string? StringProperty(JsonElement entry, string name) =>
        entry.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private RegistryCredential? FromHelper(string helper, string source, string registry)
    {
        var executable = "docker-credential-" + helper;
        var server = HostKey(registry) == "docker.io" ? DockerHubServer : registry;
        var (exit, stdout, stderr) = _runHelper(executable, server);
        if (exit != 0)
        {
            var output = (stdout + " " + stderr).Trim();
            // The helper protocol's answer for "nothing stored": anonymous, as docker itself treats it.
            if (output.Contains("credentials not found", StringComparison.OrdinalIgnoreCase))
                return null;
            throw new ModWsgiException(DiagnosticCodes.CredentialHelperFailed,
                $"The credential helper {executable} ({source} in {ConfigPath}) failed for {registry} with exit code {exit}: {Shorten(output)}. "
                + $"Check that {executable} is installed and on PATH and run 'docker login {registry}', or set DOTNET_CONTAINER_REGISTRY_UNAME and DOTNET_CONTAINER_REGISTRY_PWORD.");
        }
        string? username, secret;
        try
        {
            using var document = JsonDocument.Parse(stdout);
            username = StringProperty(document.RootElement, "Username");
            secret = StringProperty(document.RootElement, "Secret");
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            username = secret = null;
        }
        // Never echo stdout here: on success it holds the secret.
        if (username is null || secret is null)
            throw new ModWsgiException(DiagnosticCodes.CredentialHelperFailed,
                $"The credential helper {executable} ({source} in {ConfigPath}) returned something other than {{\"Username\",\"Secret\"}} JSON for {registry}.");
        return secret.Length == 0 ? null : new RegistryCredential(username, secret);
    }

    private static string Shorten(string text) => text.Length <= 300 ? text : text[..300] + "...";

    private static (int Exit, string Stdout, string Stderr) RunHelperProcess(string executable, string stdin, string? searchPath)
    {
        // Found on the build's PATH (a build server's own PATH may differ from the client's).
        if (FindOnPath(executable, searchPath) is not { } path)
            return (127, "", $"{executable} was not found on PATH");
        var info = new ProcessStartInfo(path, ["get"])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        Process process;
        try
        {
            process = Process.Start(info)!;
        }
        catch (Win32Exception)
        {
            return (127, "", $"{executable} was not found on PATH");
        }
        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            try
            {
                process.StandardInput.Write(stdin);
                process.StandardInput.Close();
            }
            catch (IOException)
            {
                // The helper exited without reading its input; its exit code and output say why.
            }
            if (!process.WaitForExit(HelperTimeout))
            {
                process.Kill(entireProcessTree: true);
                return (-1, "", $"{executable} did not answer within {HelperTimeout.TotalSeconds:0} seconds");
            }
            return (process.ExitCode, stdout.Result, stderr.Result);
        }
    }

    /// <summary>The first executable <paramref name="name"/> in <paramref name="searchPath"/>'s folders; a path given as such is used as is.</summary>
    internal static string? FindOnPath(string name, string? searchPath)
    {
        if (name.Contains('/'))
            return File.Exists(name) ? name : null;
        foreach (var folder in (searchPath ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(folder, name);
            if (File.Exists(candidate) && (OperatingSystem.IsWindows() || (File.GetUnixFileMode(candidate) & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) != 0))
                return candidate;
        }
        return null;
    }
}
