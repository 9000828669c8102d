# The Function App as an Elastic Premium container: the official Functions Python 4 image, plus
# qemu-utils (qemu-img checks VHDs by hand on the instance when needed) and the app itself.
# Python 3.12 because its image is Debian 12 (bookworm); the 3.11 image is bullseye, whose LTS ended.
FROM mcr.microsoft.com/azure-functions/python:4-python3.12

ENV AzureWebJobsScriptRoot=/home/site/wwwroot \
    AzureFunctionsJobHost__Logging__Console__IsEnabled=true \
    PYTHONDONTWRITEBYTECODE=1

RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends qemu-utils \
    && rm -rf /var/lib/apt/lists/*

COPY requirements.txt /
RUN pip install --no-cache-dir -r /requirements.txt

COPY host.json function_app.py /home/site/wwwroot/
COPY gallery_publisher /home/site/wwwroot/gallery_publisher
COPY orchestrators /home/site/wwwroot/orchestrators
COPY activities /home/site/wwwroot/activities
COPY job_page /home/site/wwwroot/job_page
