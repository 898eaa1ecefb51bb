namespace KvmCluster.Sim.Engine;

/// <summary>
/// CloudSim's state histories, consumed as they are written: an entry holds until the next one, a new entry at
/// the same instant replaces the previous one, and the last entry has no interval. Metrics come out identical
/// to integrating the full history, in constant memory per host and VM.
/// </summary>
public struct HostStateAccumulator
{
    private bool _pending;
    private double _time, _allocated, _requested;
    private bool _active;
    private bool _lastFinalActive;
    private bool _seen;

    public readonly bool HasEntries => _pending || _seen;
    public double ActiveSeconds;
    public double ViolationSeconds;
    public int Shutdowns;

    public void Add(double time, double allocated, double requested, bool active)
    {
        if (_pending && time != _time)
        {
            if (_active)
            {
                ActiveSeconds += time - _time;
                if (_allocated < _requested) ViolationSeconds += time - _time;
            }
            Finalise();
        }
        _pending = true;
        (_time, _allocated, _requested, _active) = (time, allocated, requested, active);
    }

    /// <summary>Counts the active → inactive transition the pending entry makes (Helper starts from "active").</summary>
    private void Finalise()
    {
        var previous = _seen ? _lastFinalActive : true;
        if (previous && !_active) Shutdowns++;
        _lastFinalActive = _active;
        _seen = true;
    }

    /// <summary>The last entry counts for shutdowns, not for time.</summary>
    public void Close()
    {
        if (_pending) Finalise();
        _pending = false;
    }
}

public struct VmStateAccumulator
{
    private bool _pending;
    private double _time, _allocated, _requested;
    private bool _inMigration;

    public double Allocated;      // Σ allocated × Δt
    public double Requested;      // Σ requested × Δt
    public double UnderAllocatedInMigration;
    public double ViolationShare; // Σ (req − alloc) / req over violating intervals
    public int Violations;

    public void Add(double time, double allocated, double requested, bool inMigration)
    {
        if (_pending && time != _time)
        {
            var dt = time - _time;
            Allocated += _allocated * dt;
            Requested += _requested * dt;
            if (_allocated < _requested)
            {
                ViolationShare += (_requested - _allocated) / _requested;
                Violations++;
                if (_inMigration) UnderAllocatedInMigration += (_requested - _allocated) * dt;
            }
        }
        _pending = true;
        (_time, _allocated, _requested, _inMigration) = (time, allocated, requested, inMigration);
    }
}
