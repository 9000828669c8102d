// gallery-publisher in Azure, step 2 of 2: BlobCreated for .vhd blobs in the VHD containers of the
// images account -> the app's start_from_blob function. Deployed once the app of main.bicep runs:
// an AzureFunction destination is validated against the function, which exists in ARM only after
// the container is pulled, the host has started and the triggers are synced.

@description('Region of the system topic: the region of the images storage account.')
param location string = resourceGroup().location

@description('Name of the Function App deployed by main.bicep.')
param appName string = 'gallery-publisher'

@description('The existing storage account holding the VHD containers, in this resource group.')
param storageAccountName string = 'almalinux'

@description('The Event Grid system topic of that account. An account has at most one: give the name of the existing one if there is one.')
param systemTopicName string = '${storageAccountName}-events'

// The containers of the family table (gallery_publisher/planning/families.py).
var vhdContainers = ['8-default', '8-arm64', '9-default', '9-arm64', '9-arm64-64k', 'almalinux-10', 'kitten-10']

resource images 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource app 'Microsoft.Web/sites@2023-12-01' existing = {
  name: appName
}

resource topic 'Microsoft.EventGrid/systemTopics@2023-12-15-preview' = {
  name: systemTopicName
  location: location
  properties: { source: images.id, topicType: 'Microsoft.Storage.StorageAccounts' }
}

resource vhdLanded 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2023-12-15-preview' = {
  parent: topic
  name: 'vhd-landed'
  properties: {
    destination: {
      endpointType: 'AzureFunction'
      properties: { resourceId: '${app.id}/functions/start_from_blob', maxEventsPerBatch: 1 }
    }
    filter: {
      includedEventTypes: ['Microsoft.Storage.BlobCreated']
      subjectEndsWith: '.vhd'
      advancedFilters: [
        {
          operatorType: 'StringBeginsWith'
          key: 'subject'
          values: [for name in vhdContainers: '/blobServices/default/containers/${name}/']
        }
      ]
    }
  }
}
