"""The embedded local stack: everything needed to run the job without an Azure subscription."""
