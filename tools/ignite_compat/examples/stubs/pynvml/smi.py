class nvidia_smi:
    @staticmethod
    def getInstance():
        raise RuntimeError("pynvml stand-in: no NVML on this machine")
