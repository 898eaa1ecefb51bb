namespace KvmCluster.Grains; internal static class AssemblyMarker { }
