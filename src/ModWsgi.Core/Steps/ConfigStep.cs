using ModWsgi.Core.Cache;
using ModWsgi.Core.Layers;
using ModWsgi.Core.Oci;
using ModWsgi.Core.Pipeline;
using ModWsgi.Core.Project;
using ModWsgi.Core.Steps;

namespace ModWsgi.Core.Steps;

/// <summary>
/// The image config: entrypoint, the server options as Cmd (with Django's entry point and static alias where
/// the project set none), environment, port, labels, user, stop signal and health check, over the base and the three layers.
/// </summary>
public static class ConfigStep
{
    public const string Entrypoint = "mod_wsgi-docker-start";
    /// <summary>The image's server options again, one per line: `docker run IMAGE ARGS` replaces Cmd, and the start script adds ARGS after these instead.</summary>
    public const string ImageArgsVariable = "MODWSGI_IMAGE_ARGS";
    /// <summary>Which server mod_wsgi-docker-start runs: mod_wsgi (when absent), gunicorn, waitress, python-app, shell-app.</summary>
    public const string ServerVariable = "MODWSGI_SERVER";

    public static BuiltImage Run(ImagePlan plan, RuntimeLayer runtime, DependencyLayer dependencies, ApplicationLayer application)
    {
        IReadOnlyList<AddedLayer> added = [runtime.Added, dependencies.Added, application.Added];
        var config = ImageConfigWriter.Write(plan.Base, added, SettingsFor(plan, application.Django), plan.Epoch);
        return new BuiltImage(plan.Base, added, config);
    }

    /// <summary>The image's settings; for a Django project, <paramref name="django"/> (what the build read) adds its entry point and static alias.</summary>
    public static ImageSettings SettingsFor(ImagePlan plan, DjangoSettings? django)
    {
        var server = plan.Options.Server;
        if (plan.Detected.Django is { } project && django is { } settings)
            server = DjangoSupport.Apply(server, project, settings);
        return Settings(plan, plan.Options with { Server = server });
    }

    private static ImageSettings Settings(ImagePlan plan, ImageBuildOptions options)
    {
        var server = plan.Detected.Server;
        var cmd = options.Server.ToArguments();
        var env = plan.Base.Env.Append(ImageArgsVariable + "=" + string.Join('\n', cmd)).ToList();
        if (server != ServerKind.ModWsgi)
            env.Add(ServerVariable + "=" + server.Name());
        foreach (var (name, value) in options.EnvironmentVariables)
        {
            env.RemoveAll(e => e.StartsWith(name + "=", StringComparison.Ordinal));
            env.Add(name + "=" + value);
        }
        return new ImageSettings
        {
            Entrypoint = [Entrypoint],
            Cmd = cmd,
            WorkingDir = BuildPlan.AppRoot,
            Env = env,
            ExposedPorts = [options.Server.Port + "/tcp"],
            Labels = ImageLabels.For(options, plan.Epoch, plan.Git),
            User = options.User,
            // A plain `python app.py` or shell script as PID 1 ignores SIGTERM (no handler): `docker stop`
            // would wait 10 s and SIGKILL. Python and shells do stop on SIGINT.
            StopSignal = server is ServerKind.PythonApp or ServerKind.ShellApp ? "SIGINT" : null,
            HealthCheck = options.HealthCheck,
        };
    }
}
