"""The I2CR steps, one module each: retrieve, select (TES), icr, iav, vif, finalize."""
