namespace ModWsgi.Faults.Tests;

/// <summary>
/// The suite's ground: a build on the fault engine lands there and not on the host engine, and the engine survives
/// a kill and restart with its images. Every fault test builds on these two facts.
/// </summary>
[Collection(FaultsCollection.Name)]
public sealed class FaultEngineTests(SdkFixture sdk, FaultEngine engine) : IDisposable
{
    private readonly TempDirectory _project = new("modwsgi-fault-ground");
    private readonly string _image = $"fault-ground-{Guid.NewGuid():N}"[..24];

    [DockerFact]
    public void A_build_goes_to_the_fault_engine_only_and_survives_an_engine_restart()
    {
        _project.Write("wsgi.py", "def application(environ, start_response):\n    start_response('200 OK', [])\n    return [b'ok']\n");
        var project = sdk.WriteProject(_project.Path, "ground");

        var build = sdk.PublishImage(project, engine.BuildEnvironment, "ContainerRepository=" + _image);
        Assert.True(build.ExitCode == 0, "PublishImage on the fault engine failed:\n" + build.Output);
        var id = engine.DockerOk("image", "inspect", "-f", "{{.Id}}", _image + ":latest");
        Assert.NotEqual(0, Run.Docker("image", "inspect", _image + ":latest").ExitCode);

        engine.Kill();
        Assert.NotEqual(0, engine.Docker("version").ExitCode);
        engine.Restart();
        Assert.Equal(id, engine.DockerOk("image", "inspect", "-f", "{{.Id}}", _image + ":latest"));
        Assert.Empty(engine.Containers());
    }

    public void Dispose()
    {
        engine.Docker("rmi", "-f", _image + ":latest");
        _project.Dispose();
    }
}
