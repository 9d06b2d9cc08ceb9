raise RuntimeError("this app crashes at import time")
