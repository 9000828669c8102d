// Compute Gallery Artifacts Publisher for the Function App's identity, on each gallery only.
param principalId string
param galleryNames array

var artifactsPublisher = '85a2d0d9-2eba-4c9c-b355-11c2cc0788ab'

resource galleries 'Microsoft.Compute/galleries@2023-07-03' existing = [for name in galleryNames: {
  name: name
}]

resource publisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (name, i) in galleryNames: {
  name: guid(galleries[i].id, principalId, artifactsPublisher)
  scope: galleries[i]
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', artifactsPublisher)
  }
}]
